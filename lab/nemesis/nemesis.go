// Package nemesis injects faults into a running experiment, as Jepsen's
// nemesis does: on a schedule drawn from the run's seed, with quiet windows
// between faults, each fault started and healed and both written down, and
// everything healed before the run is judged. It decides what to break and
// when; lab/cluster knows how (Target), so this package stays free of the
// database driver and lab/report can show its events.
package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The kinds of fault.
const (
	// KillServer SIGKILLs one server process, then starts a new one on
	// the same port after a pause.
	KillServer = "kill-server"
	// TerminateBackends ends every database session of the servers
	// (pg_terminate_backend): in-flight transactions roll back.
	TerminateBackends = "terminate-backends"
	// RestartPostgres shuts PostgreSQL down (fast: sessions aborted, a
	// checkpoint) and starts it again.
	RestartPostgres = "restart-postgres"
	// CrashPostgres shuts PostgreSQL down immediately (no checkpoint) and
	// starts it again: crash recovery from the WAL.
	CrashPostgres = "crash-postgres"
	// PausePostgres freezes PostgreSQL (SIGSTOP) for longer than a client
	// waits for an answer, then lets it go on (SIGCONT).
	PausePostgres = "pause-postgres"
	// PauseServer freezes one server process (SIGSTOP) for longer than the
	// servers' query timeout, then lets it go on (SIGCONT): its sessions
	// stop talking mid-transaction, holding their row locks, until the
	// database's timeouts end them (db.PoolOptions.QueryTimeout).
	PauseServer = "pause-server"
	// LoseReplies cuts, for a while, every server connection that sends a
	// COMMIT right after PostgreSQL has it (through a fault proxy): the
	// bookings commit and their answers are lost.
	LoseReplies = "lose-replies"
	// DiskFull fills the disk under PostgreSQL's data (not its WAL) for a
	// while, then frees it: a table or index that must grow cannot
	// (SQLSTATE 53100), so bookings are refused with 503 and commit
	// nothing, while PostgreSQL stays up.
	DiskFull = "disk-full"
	// Failover kills the primary of a replicated pair (--ha) as a dying
	// machine would: Patroni promotes the standby, and the old primary,
	// started again, rejoins as the new standby.
	Failover = "failover"
	// Switchover hands the primary's role to the standby, planned,
	// through Patroni.
	Switchover = "switchover"
	// LagFailover lets the standby fall behind for a second (the
	// primary's WAL sender frozen), then fails over: with asynchronous
	// replication the commits of that second are lost.
	LagFailover = "lag-failover"
	// PausePrimary freezes the primary's Patroni and PostgreSQL past the
	// leader key's life, then lets them go on: the standby is promoted
	// meanwhile, and the old primary wakes up still believing it leads.
	PausePrimary = "pause-primary"
	// StallStandby freezes the standby for a few seconds: synchronous
	// commits wait for it.
	StallStandby = "stall-standby"
)

// Kinds lists every fault kind, in the order `all` injects them.
var Kinds = []string{KillServer, TerminateBackends, RestartPostgres, CrashPostgres, PausePostgres, LoseReplies, PauseServer, DiskFull, Failover, Switchover, LagFailover, PausePrimary, StallStandby}

// DatabaseKinds are the faults that need a PostgreSQL the lab started,
// alone (not a replicated pair).
var DatabaseKinds = []string{RestartPostgres, CrashPostgres, PausePostgres, DiskFull}

// HAKinds are the faults that need a replicated pair the lab started.
var HAKinds = []string{Failover, Switchover, LagFailover, PausePrimary, StallStandby}

// Parse reads --faults: a comma-separated list of kinds, or "all"; ""
// is no faults.
func Parse(list string) ([]string, error) {
	if list == "" {
		return nil, nil
	}
	if list == "all" {
		return slices.Clone(Kinds), nil
	}
	var faults []string
	for _, kind := range strings.Split(list, ",") {
		kind = strings.TrimSpace(kind)
		if !slices.Contains(Kinds, kind) {
			return nil, fmt.Errorf("unknown fault %q; faults: all, %s", kind, strings.Join(Kinds, ", "))
		}
		if !slices.Contains(faults, kind) {
			faults = append(faults, kind)
		}
	}
	return faults, nil
}

// Target is what the nemesis breaks and heals. lab/cluster's Cluster does
// every kind; a target need only do the kinds it is given, each through
// the interface below that names it (New refuses any other): evento load,
// in front of servers it did not start, can only lose replies.
type Target any

// ServerKiller kills a server process and starts a new one in its place
// (KillServer).
type ServerKiller interface {
	Servers() int
	KillServer(i int)
	RestartServer(ctx context.Context, i int) error
}

// ServerPauser freezes a server process and lets it go on (PauseServer);
// ResumeServer returns once the server answers again.
type ServerPauser interface {
	Servers() int
	PauseServer(i int) error
	ResumeServer(ctx context.Context, i int) error
}

// BackendTerminator ends the servers' database sessions (TerminateBackends).
type BackendTerminator interface {
	TerminateBackends(ctx context.Context) (int, error)
}

// DatabaseBreaker restarts, crashes and pauses PostgreSQL (RestartPostgres,
// CrashPostgres, PausePostgres).
type DatabaseBreaker interface {
	RestartDatabase(ctx context.Context, crash bool) error
	PauseDatabase() error
	ResumeDatabase() error
}

// DiskFiller fills the disk under PostgreSQL's data and frees it (DiskFull).
type DiskFiller interface {
	FillDisk() error
	FreeDisk() error
}

// PrimaryKiller kills the primary of a replicated pair and waits until the
// standby is promoted and the old primary has rejoined (Failover). It
// describes what happened, e.g. how long no primary ran.
type PrimaryKiller interface {
	Failover(ctx context.Context) (string, error)
}

// LaggingPrimaryKiller lets the standby fall behind, then kills the
// primary (LagFailover).
type LaggingPrimaryKiller interface {
	LagThenFailover(ctx context.Context, lag time.Duration) (string, error)
}

// PrimaryPauser freezes the pair's primary and lets it go on
// (PausePrimary).
type PrimaryPauser interface {
	PausePrimary(ctx context.Context) (string, error)
}

// StandbyStaller freezes the pair's standby and lets it go on
// (StallStandby).
type StandbyStaller interface {
	StallStandby(ctx context.Context, d time.Duration) (string, error)
}

// PrimarySwitcher hands the primary's role to the standby (Switchover).
type PrimarySwitcher interface {
	Switchover(ctx context.Context) (string, error)
}

// ReplyLoser loses replies for a while (LoseReplies) and says how many.
type ReplyLoser interface {
	LoseReplies(ctx context.Context, window time.Duration) (int, error)
}

// Supports reports whether target can inject the fault kind.
func Supports(target Target, kind string) bool {
	var ok bool
	switch kind {
	case KillServer:
		_, ok = target.(ServerKiller)
	case PauseServer:
		_, ok = target.(ServerPauser)
	case TerminateBackends:
		_, ok = target.(BackendTerminator)
	case RestartPostgres, CrashPostgres, PausePostgres:
		_, ok = target.(DatabaseBreaker)
	case LoseReplies:
		_, ok = target.(ReplyLoser)
	case DiskFull:
		_, ok = target.(DiskFiller)
	case Failover:
		_, ok = target.(PrimaryKiller)
	case Switchover:
		_, ok = target.(PrimarySwitcher)
	case LagFailover:
		_, ok = target.(LaggingPrimaryKiller)
	case PausePrimary:
		_, ok = target.(PrimaryPauser)
	case StallStandby:
		_, ok = target.(StandbyStaller)
	}
	return ok
}

// Event is one fault in the run's history: what, on what, from Start until
// Heal (the same instant for a fault that is over as soon as it is done).
type Event struct {
	Fault  string    `json:"fault"`
	Target string    `json:"target,omitempty"`
	Start  time.Time `json:"start"`
	Heal   time.Time `json:"heal"`
	Error  string    `json:"error,omitempty"` // the fault or its healing failed
}

// Pauses says how long each pause fault freezes its victim.
type Pauses struct {
	// Database is how long PostgreSQL stays frozen (PausePostgres).
	Database time.Duration
	// Server is how long a server process stays frozen (PauseServer):
	// longer than the servers' query timeout, so that the database's own
	// bounds, not the SIGCONT, are what end its stalled transactions.
	Server time.Duration
	// StandbyLag is how long the standby falls behind before the primary
	// dies (LagFailover), and StandbyStall how long it stays frozen
	// (StallStandby). Under the servers' query timeout, COMMITs waiting
	// for a synchronous standby wait; past it, they are cancelled while
	// already committed on the primary, and answered 504.
	StandbyLag, StandbyStall time.Duration
}

// Nemesis injects faults into one run.
type Nemesis struct {
	target Target
	faults []string
	every  time.Duration
	pauses Pauses
	rng    *rand.Rand
	skip   int // kinds the first round leaves to the end (Skip)
}

// Skip makes the first round start k kinds later in its drawn order, the
// kinds skipped coming at its end. A comparison's k-th experiment skips k:
// runs that each meet a fault or two, under the same seed, would
// otherwise all meet the same first kinds, and between them they now
// meet every kind. Call it before Run.
func (n *Nemesis) Skip(k int) { n.skip = k }

// New prepares a nemesis that injects one of faults every `every` (the
// quiet window before each), choosing with a generator seeded by seed;
// each paused process stays frozen as long as pauses says. It refuses a
// fault the target cannot inject.
func New(target Target, faults []string, every time.Duration, pauses Pauses, seed uint64) (*Nemesis, error) {
	for _, kind := range faults {
		if !Supports(target, kind) {
			return nil, fmt.Errorf("fault %s: this target cannot inject it", kind)
		}
	}
	return &Nemesis{target: target, faults: faults, every: every, pauses: pauses, rng: rand.New(rand.NewPCG(seed, 0x4e454d45))}, nil
}

// loseRepliesFor is how long replies to COMMIT are lost.
const loseRepliesFor = time.Second

// diskFullFor is how long the disk stays full.
const diskFullFor = 2 * time.Second

// killPause is how long a killed server stays down.
const killPause = 500 * time.Millisecond

// healTimeout bounds the healing of one fault, which runs to its end even
// after ctx ends: a run is never judged with a server still down.
const healTimeout = time.Minute

// Run injects faults until ctx ends and returns them, every one healed.
// The faults come in rounds, each kind once a round in an order drawn from
// the seed, so a run of a few rounds has met every kind.
func (n *Nemesis) Run(ctx context.Context) []Event {
	var events []Event
	var round []string
	for {
		select {
		case <-ctx.Done():
			return events
		case <-time.After(n.every):
		}
		if len(round) == 0 {
			round = slices.Clone(n.faults)
			n.rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
			k := n.skip % len(round)
			round, n.skip = append(round[k:], round[:k]...), 0
		}
		events = append(events, n.inject(round[0]))
		round = round[1:]
	}
}

func (n *Nemesis) inject(fault string) Event {
	heal, cancel := context.WithTimeout(context.Background(), healTimeout)
	defer cancel()
	e := Event{Fault: fault, Start: time.Now()}
	var err error
	// New made sure the target has each kind's interface.
	switch fault {
	case KillServer:
		t := n.target.(ServerKiller)
		i := n.rng.IntN(t.Servers())
		e.Target = fmt.Sprintf("server %d", i+1)
		t.KillServer(i)
		time.Sleep(killPause)
		err = t.RestartServer(heal, i)
	case TerminateBackends:
		var ended int
		ended, err = n.target.(BackendTerminator).TerminateBackends(heal)
		e.Target = fmt.Sprintf("%d sessions", ended)
	case RestartPostgres, CrashPostgres:
		err = n.target.(DatabaseBreaker).RestartDatabase(heal, fault == CrashPostgres)
	case LoseReplies:
		var lost int
		lost, err = n.target.(ReplyLoser).LoseReplies(heal, loseRepliesFor)
		e.Target = fmt.Sprintf("%d replies", lost)
	case PausePostgres:
		t := n.target.(DatabaseBreaker)
		if err = t.PauseDatabase(); err == nil {
			time.Sleep(n.pauses.Database)
			err = t.ResumeDatabase()
		}
	case DiskFull:
		t := n.target.(DiskFiller)
		if err = t.FillDisk(); err == nil {
			time.Sleep(diskFullFor)
		}
		// Freed even when filling failed half way.
		err = errors.Join(err, t.FreeDisk())
	case Failover:
		e.Target, err = n.target.(PrimaryKiller).Failover(heal)
	case Switchover:
		e.Target, err = n.target.(PrimarySwitcher).Switchover(heal)
	case LagFailover:
		e.Target, err = n.target.(LaggingPrimaryKiller).LagThenFailover(heal, n.pauses.StandbyLag)
	case PausePrimary:
		e.Target, err = n.target.(PrimaryPauser).PausePrimary(heal)
	case StallStandby:
		e.Target, err = n.target.(StandbyStaller).StallStandby(heal, n.pauses.StandbyStall)
	case PauseServer:
		t := n.target.(ServerPauser)
		i := n.rng.IntN(t.Servers())
		e.Target = fmt.Sprintf("server %d", i+1)
		if err = t.PauseServer(i); err == nil {
			time.Sleep(n.pauses.Server)
			err = t.ResumeServer(heal, i)
		}
	}
	e.Heal = time.Now()
	if err != nil {
		e.Error = err.Error()
	}
	return e
}
