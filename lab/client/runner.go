package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// Runner runs the clients of one load. Snapshot may be called while Run runs.
type Runner struct {
	cfg   Config
	api   *API
	stats *stats
	// runID prefixes every request id and idempotency key of the run. It
	// is random (64 bits), so the keys of load generators on several
	// machines never meet: evento check merges their histories by them.
	// It is not derived from the seed: a repeated --seed must repeat the
	// clients' choices, not replay an earlier run's stored answers.
	runID string
}

// NewRunner checks cfg and prepares a run.
func NewRunner(cfg Config) (*Runner, error) {
	cfg.setDefaults()
	switch {
	case len(cfg.Servers) == 0:
		return nil, errors.New("no server to send requests to")
	case len(cfg.Targets) == 0:
		return nil, errors.New("no hotel to book at")
	case cfg.Clients < 1:
		return nil, errors.New("at least one client is needed")
	case cfg.Strategy == "":
		return nil, errors.New("no strategy")
	case cfg.HoldShare < 0 || cfg.HoldShare > 1 || cfg.AbandonShare < 0 || cfg.AbandonShare > 1:
		return nil, errors.New("hold and abandon shares must be between 0 and 1")
	}
	if _, err := ParseRoute(string(cfg.Route)); err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, api: NewAPI(cfg),
		stats: newStats(len(cfg.Targets), cfg.History), runID: strconv.FormatUint(rand.Uint64(), 36)}, nil
}

// Snapshot is a view of the run so far.
func (r *Runner) Snapshot() Snapshot { return r.stats.snapshot() }

// Targets are the hotels the run books at.
func (r *Runner) Targets() []Target { return r.cfg.Targets }

// Result is what the clients saw: the ledger and the request counts.
type Result struct {
	RunID     string // prefixes the run's request ids and keys
	Started   time.Time
	History   []Attempt // every attempt, in no order; empty unless Config.History
	Seconds   []Second  // the run second by second
	Elapsed   time.Duration
	Completed bool // every client stopped because its hotel sold out: none gave up, ctx did not end first
	Targets   []TargetResult
	Requests  RequestCounts
	// UnknownRequests are reserves sent without an answer; their rooms are
	// in TargetResult.Unknown.
	UnknownRequests int64
	// Resolution is what the database told of the keyed reserves whose
	// outcome the clients never learned (Resolve).
	Resolution Resolution
	// GaveUp counts clients that stopped after repeated errors.
	GaveUp int64
	// Replayed counts answers a server replayed from an idempotency key:
	// outcomes that would have been unknown without one.
	Replayed int64
	Holds    ClientHolds
	Latency  LatencyMs
	// Stopped, when set, is why the run stopped before its end: a server
	// refused the run's mode (a *ModeRefusedError). The counts then say
	// nothing about the strategy.
	Stopped error
}

// TargetResult is the ledger of one hotel.
type TargetResult struct {
	Target
	Acknowledged int64           // rooms clients were told are theirs
	Unknown      int64           // rooms of reserves with unknown outcome
	Reservations map[int64]int64 // acknowledged reservation id -> rooms
	// Keyed maps the idempotency key of each reserve that got a definite
	// answer to what it was told: its reservation id, or 0 for "nothing
	// was booked". Empty without keys.
	Keyed map[string]int64
	// ToldTwice counts, per reservation that more than one booking was
	// told is theirs, how many were: one reservation, two claims.
	ToldTwice map[int64]int
	// Retold lists, per request that was told more than one reservation,
	// every one it was told: one request booked twice. Only a replayed
	// history can show one (a live client stops at its first success).
	Retold map[string][]int64
	// UnknownKeys maps the stored key of each keyed reserve whose outcome
	// stayed unknown when its retry budget ran out to its rooms; the lab
	// resolves them from the database before judging (Resolve).
	UnknownKeys map[string]int64
	// ResolvedBooked are rooms of such reserves that the database shows
	// booked under their keys: booked for sure, though no client was told.
	// Resolve moves them out of Unknown.
	ResolvedBooked int64
	SoldOutAfter   time.Duration // when a client first saw it sold out; 0 = never
}

// RequestCounts counts answers by kind.
type RequestCounts struct {
	Success      int64 `json:"success"`
	Conflict     int64 `json:"conflict"`
	SoldOut      int64 `json:"sold_out"`
	Insufficient int64 `json:"insufficient"`
	// RoomsHeld are refusals that told the client to wait for held rooms.
	RoomsHeld int64 `json:"rooms_held"`
	Error     int64 `json:"error"`
	// Internal are answers with status 500 (Evento's "internal"), reads
	// included: the API promises a 503 or 504 for every fault, so each is
	// a broken contract the verdict names, whatever the rooms say.
	Internal int64 `json:"internal"`
	Retries  int64 `json:"retries"`
	Checks   int64 `json:"availability_checks"`
	// Cancelled are requests the run's own end cut off in flight; with
	// keys each was resent until its outcome was known.
	Cancelled int64 `json:"cancelled"`
	// FirstError is the first error met, word for word; "" without errors.
	FirstError string `json:"first_error,omitempty"`
	// Late and Skipped are open-model (--rate) arrivals that started over
	// 10 ms after their intended start, or found no client free within 1 s
	// of it and were never sent.
	Late    int64 `json:"late,omitempty"`
	Skipped int64 `json:"skipped,omitempty"`
}

// LatencyMs summarises reserve round trips from an HDR histogram.
type LatencyMs struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Run starts every client and returns when all have stopped (sold out, or
// given up after repeated errors) or ctx ends.
func (r *Runner) Run(ctx context.Context) Result {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var arrivals chan time.Time
	// The schedule of arrivals ends with the run, or once every client
	// has stopped.
	scheduleCtx, clientsDone := context.WithCancel(ctx)
	var scheduler sync.WaitGroup
	if r.cfg.Rate > 0 {
		arrivals = make(chan time.Time)
		scheduler.Go(func() { r.schedule(scheduleCtx, arrivals) })
	}
	var wg sync.WaitGroup
	for i := range r.cfg.Clients {
		c := &client{
			id:       i,
			target:   i % len(r.cfg.Targets),
			cfg:      &r.cfg,
			api:      r.api,
			stats:    r.stats,
			rng:      rand.New(rand.NewPCG(r.cfg.Seed, uint64(i))),
			runID:    r.runID,
			arrivals: arrivals,
			stop:     stop,
		}
		if n := len(r.cfg.Credentials); n > 0 {
			c.cred = r.cfg.Credentials[i%n]
		}
		wg.Go(func() { c.run(ctx) })
	}
	wg.Wait()
	clientsDone()
	scheduler.Wait()
	r.api.CloseIdleConnections()
	// A run is complete when every client stopped because its hotel sold
	// out: one cut short, or with clients that gave up, proved less.
	res := r.stats.result(r.cfg.Targets, time.Now())
	res.Requests.Internal = r.api.internal.Load()
	res.RunID, res.Completed = r.runID, ctx.Err() == nil && r.stats.gaveUp.Load() == 0
	if refused := (*ModeRefusedError)(nil); errors.As(context.Cause(ctx), &refused) {
		res.Stopped = refused
	}
	return res
}

// ClientHolds is what the clients did with holds.
type ClientHolds struct {
	Placed           int64 `json:"placed"`
	Confirmed        int64 `json:"confirmed"`
	Abandoned        int64 `json:"abandoned"`
	ExpiredAtConfirm int64 `json:"expired_at_confirm"`
	Unknown          int64 `json:"unknown"`
}

// lateAfter and skipAfter judge an open-model arrival by how long after
// its intended start a client took it: late past the first, skipped (never
// sent) past the second, as pgbench -R --latency-limit does.
const (
	lateAfter = 10 * time.Millisecond
	skipAfter = time.Second
)

// schedule hands out arrivals at Rate a second, with exponential gaps
// drawn from the seed, until ctx ends.
func (r *Runner) schedule(ctx context.Context, arrivals chan<- time.Time) {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 0x52415445))
	next := time.Now()
	for {
		next = next.Add(time.Duration(rng.ExpFloat64() / r.cfg.Rate * float64(time.Second)))
		select {
		case <-time.After(time.Until(next)):
		case <-ctx.Done():
			return
		}
		select {
		case arrivals <- next:
			if time.Since(next) > lateAfter {
				r.stats.late.Add(1)
			}
		case <-time.After(time.Until(next.Add(skipAfter))):
			r.stats.skipped.Add(1)
		case <-ctx.Done():
			return
		}
	}
}

// Resolution counts the keyed reserves whose outcome was unknown when
// their retry budget ran out, by what the database told of them.
type Resolution struct {
	Booked    int64 // a booking is stored under the key
	NotBooked int64 // none is, and no server can still commit one
	// Left are still unknown: no booking is stored under the key, but a
	// server may yet commit one; Why says why the lab could not exclude it.
	Left int64
	Why  string
}

// Resolve settles the keyed reserves whose outcome stayed unknown, from
// stored (each key's stored booking, as the database holds it once the run
// is over): a key holding a booking booked its rooms. A key holding none
// is "not booked" only if absentIsFinal is "", that is when no server can
// still commit a request under it; otherwise absentIsFinal says why one
// may, and the request stays unknown. The ledger's unknown rooms shrink by
// those resolved; Completed turns false while keyed requests stay unknown,
// for the run's outcome is then not known in full.
func (r *Result) Resolve(stored map[string]int64, absentIsFinal string) {
	for i := range r.Targets {
		t := &r.Targets[i]
		for key, rooms := range t.UnknownKeys {
			switch _, booked := stored[key]; {
			case booked:
				r.Resolution.Booked++
				t.ResolvedBooked += rooms
			case absentIsFinal == "":
				r.Resolution.NotBooked++
			default:
				r.Resolution.Left++
				continue
			}
			t.Unknown -= rooms
			r.UnknownRequests--
			delete(t.UnknownKeys, key)
		}
	}
	if r.Resolution.Left > 0 {
		r.Resolution.Why = absentIsFinal
		r.Completed = false
	}
}
