package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/cluster"
	"github.com/evento-lab/evento/lab/nemesis"
	"github.com/evento-lab/evento/lab/report"
)

// Config describes the experiments of one lab: the database and servers
// they share, the workload each seeds, and how its clients behave.
type Config struct {
	Database cluster.Resolver
	Servers  int // server processes
	// Pool is the database connections of each server; 0 derives it
	// (ServerPool).
	Pool       int
	RaceWindow time.Duration // servers delay every booking write by this long
	Events     int           // events each experiment seeds
	Hotels     int           // hotels per event
	Rooms      int           // rooms per hotel
	// Buckets splits each hotel of an experiment whose strategy books
	// buckets (db.Strategy.SplitsHotels: sharded) into that many bucket rows;
	// 0 is DefaultBuckets. Other strategies' hotels are never split.
	Buckets int
	// Modes are the strategies the servers serve (serve --modes): those
	// the experiments will run, naive included when asked for. Run,
	// Compare and Bench set them; empty serves every strategy.
	Modes []string
	// Clients is how the clients behave; each experiment fills in the
	// servers, the targets it seeded and the strategy.
	Clients client.Config
	Timeout time.Duration // stops the clients
	// Faults the nemesis injects while the clients run (lab/nemesis),
	// one every FaultEvery; none when empty.
	Faults     []string
	FaultEvery time.Duration
	// StandbyPause is how long lag-failover lets the standby fall behind
	// and stall-standby freezes it; 0 keeps each under the servers'
	// query timeout (defaultStandbyLag, defaultStandbyStall).
	StandbyPause time.Duration
	// History, when set, receives every experiment's history as JSON
	// lines (--history): each attempt and each fault.
	History io.Writer
	// Auth starts the servers with --auth keys and gives every simulated
	// client an API key of its own (its own holds, cap and idempotency
	// keys); without it every client is the one anonymous client, and the
	// servers' cap on rooms held at once is off.
	Auth bool
	// ExtraConns are database connections others will open beside the
	// servers' pools (pgbench's clients in Bench).
	ExtraConns int
	// PgBouncer puts a throwaway PgBouncer in transaction pooling mode,
	// with PgBouncerPool server connections (0: 20), between the servers
	// and PostgreSQL.
	PgBouncer     bool
	PgBouncerPool int
	Progress      Progress
	Log           io.Writer // warnings; nil discards them
}

// Progress shows a lab at work; every field may be nil.
type Progress struct {
	// Clients shows the clients of one run live, until stop is called.
	Clients func(r *client.Runner) (stop func())
	// Strategy says that Compare starts a strategy's run of round round
	// (of rounds).
	Strategy func(name string, round, rounds int)
}

// DefaultBuckets is how many bucket rows a sharded hotel gets unless told:
// more than the two cores of a small machine can keep busy, few enough
// that the last rooms are not spread one a bucket over dozens of rows.
const DefaultBuckets = 8

// bucketsFor is how many buckets the hotels of strategy's experiments are
// split into: none unless it books buckets.
func (cfg Config) bucketsFor(strategy string) int {
	s, _ := db.LookupStrategy(strategy)
	if cfg.Buckets > 0 {
		return s.SplitsHotels(cfg.Buckets)
	}
	return s.SplitsHotels(DefaultBuckets)
}

// sweepEvery is how often the lab's servers expire overdue holds.
const sweepEvery = 250 * time.Millisecond

// backendSampleEvery is how often the lab counts PostgreSQL's backends
// while the clients run: often enough to see a pool fill, one cheap query.
const backendSampleEvery = 100 * time.Millisecond

// Lab is one database and its running servers, ready for any number of
// experiments; each experiment seeds an event of its own.
type Lab struct {
	cfg     Config
	cluster *cluster.Cluster
	// clientsRun, when set, is called as an experiment's clients start,
	// and what it returns as they stop: Bench measures the CPU of exactly
	// the bookings it counts.
	clientsRun func() (stopped func(client.Result))
	// experiments counts the experiments run, for the nemesis (Skip).
	experiments int
}

// databaseKind says what the lab's PostgreSQL is, for the reports.
func (l *Lab) databaseKind() (kind, durability string) {
	if ha := l.cluster.Database.HA; ha != nil {
		return report.ReplicatedPair, ha.Durability()
	}
	return report.SingleServer, ""
}

// ServerPool is the pool each server opens: cfg.Pool when given, else
// db.DefaultServerPool;
// behind PgBouncer, twice the server's share of PgBouncer's connections.
// Queries a server sends beyond what PgBouncer can serve at once wait in
// PgBouncer's queue, where no server sees them, and a query whose deadline
// ends there is cancelled with a cancel request, which PgBouncer 1.18
// forwards on a server connection of the pool's own: enough of them, on a
// busy machine, and the pool serves only cancels (docs/api.md, "Behind
// PgBouncer"). Waiting for pgx's pool, inside the server, costs nothing.
func ServerPool(cfg Config) int {
	switch {
	case cfg.Pool > 0:
		return cfg.Pool
	case cfg.PgBouncer:
		pool := cfg.PgBouncerPool
		if pool == 0 {
			pool = localpg.DefaultPgBouncerPoolSize
		}
		return max(1, (2*pool+cfg.Servers-1)/max(cfg.Servers, 1))
	default:
		return db.DefaultServerPool
	}
}

// Open starts the database and the servers.
func Open(ctx context.Context, cfg Config) (*Lab, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the evento binary to start servers: %w", err)
	}
	cfg.Pool = ServerPool(cfg)
	modes := "all"
	if len(cfg.Modes) > 0 {
		modes = strings.Join(cfg.Modes, ",")
	}
	c, err := cluster.Open(ctx, cluster.Options{
		Database:   cfg.Database,
		Executable: exe,
		Servers:    cfg.Servers,
		Pool:       cfg.Pool,
		ExtraConns: cfg.ExtraConns,
		// Only a run that loses replies pays for the proxy's extra hop.
		ProxyDatabase: slices.Contains(cfg.Faults, nemesis.LoseReplies),
		PgBouncer:     cfg.PgBouncer,
		PgBouncerPool: cfg.PgBouncerPool,
		// A query still queued in PgBouncer past this gets PgBouncer's
		// error, before the server's deadline would cancel it.
		PgBouncerWait: serverQueryTimeout - time.Second,
		ServerArgs: append([]string{
			"--pool", strconv.Itoa(cfg.Pool),
			"--max-rooms", strconv.Itoa(cfg.Clients.MaxRooms),
			"--race-window", cfg.RaceWindow.String(),
			"--sweep-every", sweepEvery.String(),
			"--query-timeout", serverQueryTimeout.String(),
			"--modes", modes,
		}, authArgs(cfg.Auth)...),
	})
	if err != nil {
		return nil, err
	}
	for _, fault := range cfg.Faults {
		if slices.Contains(nemesis.DatabaseKinds, fault) && !c.OwnsDatabase() {
			c.Close()
			return nil, fmt.Errorf("--faults %s: %w", fault, cluster.ErrNotOurDatabase)
		}
		if slices.Contains(nemesis.HAKinds, fault) && c.Database.HA == nil {
			c.Close()
			return nil, fmt.Errorf("--faults %s: %w", fault, cluster.ErrNoPair)
		}
	}
	return &Lab{cfg: cfg, cluster: c}, nil
}

// Close stops the servers, then the database; it reports how the servers ended.
func (l *Lab) Close() error { return l.cluster.Close() }

// Run is one experiment: open a lab, run strategy, close the lab. A server
// that did not stop cleanly is noted in the report.
func Run(ctx context.Context, cfg Config, strategy string) (report.Report, error) {
	cfg.Modes = []string{strategy}
	l, err := Open(ctx, cfg)
	if err != nil {
		return report.Report{}, err
	}
	r, err := l.Experiment(ctx, strategy)
	if closeErr := l.Close(); closeErr != nil && err == nil {
		r.Notes = append(r.Notes, "a server did not stop cleanly: "+closeErr.Error())
	}
	return r, err
}

// Experiment runs the clients with one strategy against a new event and
// judges the run. It still judges a run cut short by ctx.
func (l *Lab) Experiment(ctx context.Context, strategy string) (report.Report, error) {
	cfg := l.cfg
	defer func() { l.experiments++ }()
	if len(cfg.Modes) > 0 && !slices.Contains(cfg.Modes, strategy) {
		// Its every booking would be refused with mode_disabled.
		return report.Report{}, fmt.Errorf("the lab's servers do not serve %s; they serve %s", strategy, strings.Join(cfg.Modes, ", "))
	}
	var targets []client.Target
	var eventIDs []int64
	for i := range cfg.Events {
		name := fmt.Sprintf("%s run %s #%d", strategy, time.Now().UTC().Format(time.RFC3339), i+1)
		event, err := labdb.Seed(ctx, l.cluster.Pool, labdb.SeedSpec{Name: name, Hotels: cfg.Hotels, Rooms: int32(cfg.Rooms), Buckets: cfg.bucketsFor(strategy)})
		if err != nil {
			return report.Report{}, err
		}
		eventIDs = append(eventIDs, event.EventID)
		for _, h := range event.Hotels {
			targets = append(targets, client.Target{EventID: event.EventID, HotelID: h.HotelID, Name: h.Name, Assigned: int64(h.Rooms)})
		}
	}
	clients := cfg.Clients
	clients.Servers, clients.Targets, clients.Strategy = l.cluster.URLs, targets, strategy
	if cfg.Auth {
		creds, err := labdb.AddClients(ctx, l.cluster.Pool, fmt.Sprintf("%s-%d", strategy, time.Now().UnixNano()), clients.Clients)
		if err != nil {
			return report.Report{}, err
		}
		for _, c := range creds {
			clients.Credentials = append(clients.Credentials, client.Credential{Key: c.Key, Client: c.Client})
		}
	}
	// The report splits the attempts by fault window: under faults the
	// history is kept even without --history.
	clients.History = clients.History || len(cfg.Faults) > 0
	runner, err := client.NewRunner(clients)
	if err != nil {
		return report.Report{}, err
	}
	var n *nemesis.Nemesis
	if len(cfg.Faults) > 0 {
		// A paused PostgreSQL stays frozen past the clients' patience: their
		// requests time out, and must be resolved with their keys.
		pauseFor := max(clients.RequestTimeout+500*time.Millisecond, time.Second)
		pauses := nemesis.Pauses{Database: pauseFor, Server: serverPauseFor, StandbyLag: defaultStandbyLag, StandbyStall: defaultStandbyStall}
		if cfg.StandbyPause > 0 {
			pauses.StandbyLag, pauses.StandbyStall = cfg.StandbyPause, cfg.StandbyPause
		}
		if n, err = nemesis.New(l.cluster, cfg.Faults, cfg.FaultEvery, pauses, clients.Seed); err != nil {
			return report.Report{}, err
		}
		n.Skip(l.experiments)
	}
	before, scrapeErr := cluster.ScrapeServerStats(ctx, l.cluster.AdminURLs())
	stopWatching := l.cluster.WatchBackends(ctx, backendSampleEvery)
	stopped := func(client.Result) {}
	if l.clientsRun != nil {
		stopped = l.clientsRun()
	}
	result, faults := runClients(ctx, runner, n, cfg.Timeout, cfg.Progress.Clients)
	stopped(result)
	backends := stopWatching()
	if result.Stopped != nil {
		return report.Report{}, explainStop(result.Stopped)
	}
	if clients.HoldShare > 0 && ctx.Err() == nil {
		// Abandoned holds must expire and be swept before the verdict can
		// say nothing leaked; the servers are still up to sweep them.
		if err := labdb.WaitForHoldsToSettle(ctx, l.cluster.Pool, eventIDs, 3*sweepEvery); err != nil && ctx.Err() == nil {
			return report.Report{}, err
		}
	}

	// Judge even after Ctrl-C: a partial run still has a verdict.
	verifyCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if len(faults) > 0 {
		// Healed is not yet well: the final reads wait until every server
		// answers again.
		if err := l.cluster.Healthy(verifyCtx); err != nil {
			return report.Report{}, fmt.Errorf("after the faults: %w", err)
		}
	}
	// Before the final read: what settles a key with no booking may let a
	// last request commit, and the read must see it.
	if err := resolveUnknowns(verifyCtx, l.cluster.Pool, &result, l.settle); err != nil {
		return report.Report{}, err
	}
	observed, err := observeDatabase(l.cluster.Pool, eventIDs)(verifyCtx)
	if err != nil {
		return report.Report{}, err
	}
	if _, err := addKeyedReservations(verifyCtx, l.cluster.Pool, ledgerKeys(result), result, observed); err != nil {
		return report.Report{}, err
	}
	for _, f := range faults {
		if slices.Contains(nemesis.HAKinds, f.Fault) {
			for i := range observed {
				observed[i].PrimaryChanged = true
			}
		}
	}
	checked, err := checker.Check(result, observed)
	if err != nil {
		return report.Report{}, err
	}
	kind, durability := l.databaseKind()
	r := report.Build(report.Meta{
		Strategy: strategy, Clients: clients.Clients, Servers: cfg.Servers, Route: clients.Route,
		Seed: clients.Seed, Think: clients.Think, Rate: clients.Rate, VerifiedBy: "database", Auth: authNote(cfg.Auth),
		LoadPeakMemoryBytes: cluster.PeakRSSBytes(), DatabaseKind: kind, Durability: durability,
	}, result, checked)
	if after, err := cluster.ScrapeServerStats(verifyCtx, l.cluster.AdminURLs()); err == nil && scrapeErr == nil {
		delta := report.ServerStats(after.Sub(before))
		r.Server = &delta
	}
	if backends.Samples > 0 {
		r.Database = &report.DatabaseStats{
			PeakClientBackends: backends.Total, PeakLabBackends: backends.Lab, PeakOtherBackends: backends.Others,
			PgBouncerPool: l.cluster.PgBouncerPoolSize(), Samples: backends.Samples,
		}
	}
	r.SetFaults(faults, result.History)
	r.Notes = append(r.Notes, noFaultNote(cfg.Faults, cfg.FaultEvery, faults, r)...)
	r.Notes = append(r.Notes, errorNote(r, !clients.Idempotency)...)
	if cfg.History != nil {
		run := runLine{Strategy: strategy, Seed: clients.Seed, Clients: clients.Clients, APIKey: cfg.Auth}
		if len(eventIDs) == 1 {
			run.Event = eventIDs[0]
		}
		if err := writeHistory(cfg.History, run, result, faults); err != nil {
			return report.Report{}, err
		}
	}
	return r, nil
}

// authArgs start the servers for the population: with keys, one per
// client, each under the servers' default cap on rooms held and cooldown
// between holds, and no limit per event (a simulated client books until
// the hotel is sold out: the run measures the strategy, not the limit,
// which has tests of its own); without, the clients are all the one
// anonymous client, whose cap and cooldown would be everyone's, so they
// are off (and there is no limit per event for it).
func authArgs(auth bool) []string {
	if auth {
		return []string{"--auth", "keys", "--max-rooms-per-client", "0"}
	}
	return []string{"--auth", "none", "--max-held-rooms", "0", "--hold-cooldown", "0"}
}

// authNote says in the report how the servers knew the clients.
func authNote(auth bool) string {
	if auth {
		return "keys: one API key per simulated client, each under the servers' hold cap and cooldown, no limit per event"
	}
	return "none: the clients are one anonymous client, hold cap and cooldown off"
}

// runClients runs the clients for at most timeout, showing progress while
// they run when show is not nil, and n, if any, breaks and heals meanwhile:
// n stops with the clients and has healed its last fault when this returns.
func runClients(ctx context.Context, runner *client.Runner, n *nemesis.Nemesis, timeout time.Duration, show func(*client.Runner) func()) (client.Result, []nemesis.Event) {
	faultCtx, stopFaults := context.WithCancel(ctx)
	defer stopFaults()
	events := make(chan []nemesis.Event, 1)
	if n == nil {
		events <- nil
	} else {
		go func() { events <- n.Run(faultCtx) }()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := func() {}
	if show != nil {
		stop = show(runner)
	}
	result := runner.Run(ctx)
	stop()
	stopFaults()
	return result, <-events
}

// noFaultNote says that a run asked for faults met none: it ended before
// the nemesis's first quiet window did, so it proved nothing about them.
func noFaultNote(asked []string, every time.Duration, injected []nemesis.Event, r report.Report) []string {
	if len(asked) == 0 || len(injected) > 0 {
		return nil
	}
	return []string{fmt.Sprintf(
		"no fault was injected: the run ended after %.1fs, before the first --fault-every (%s) had passed, so it says nothing about %s; a longer run (more --rooms, a longer --think) or a shorter --fault-every meets them",
		r.ElapsedSeconds, every, strings.Join(asked, ", "))}
}

// errorNote explains failed and cancelled requests in the terms of the
// run, naming a cause only when one was observed: the first error met.
func errorNote(r report.Report, noIdempotency bool) []string {
	var notes []string
	if n := r.Requests.Error; n > 0 {
		note := fmt.Sprintf("%d requests failed or timed out", n)
		switch {
		case noIdempotency:
			note += "; without idempotency keys a booking whose answer was lost is never resent, so its rooms stay unknown"
		case r.Unknown.Requests == 0 && r.Unknown.ResolvedBooked+r.Unknown.ResolvedNotBooked == 0:
			note += "; every booking among them was resent with its idempotency key until its outcome was known"
		}
		if first := r.Requests.FirstError; first != "" {
			note += "; the first error: " + first
		}
		notes = append(notes, note)
	}
	if booked, notBooked := r.Unknown.ResolvedBooked, r.Unknown.ResolvedNotBooked; booked+notBooked > 0 {
		notes = append(notes, fmt.Sprintf(
			"%d keyed bookings were still unknown when their retry budget ran out; their keys in the database settled them: %d booked, %d not booked",
			booked+notBooked, booked, notBooked))
	}
	if n := r.Requests.Cancelled; n > 0 {
		fate := "each was resent with its key until its outcome was known"
		if noIdempotency {
			fate = "without idempotency keys their rooms stay unknown"
		}
		notes = append(notes, fmt.Sprintf("%d requests were in flight when the run ended; %s", n, fate))
	}
	return notes
}
