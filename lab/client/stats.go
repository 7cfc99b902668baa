package client

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// stats is shared by every client of a run. Counters are atomic; the
// histogram and each hotel's ledger sit behind a mutex of their own.
type stats struct {
	start time.Time

	// The counts of Result and its RequestCounts, which say what each counts.
	success, conflict, soldOut, insufficient, roomsHeld, errors, retries, checks, unknownRequests atomic.Int64

	gaveUp, replayed, late, skipped, cancelled                              atomic.Int64
	internal                                                                atomic.Int64 // 500s, counted here only when replayed (live: API.internal)
	holdsPlaced, holdsConfirmed, holdsAbandoned, holdsExpired, holdsUnknown atomic.Int64
	// firstError is the first error met, as observed: what a report may
	// name as the cause of the errors, instead of a guess.
	firstError atomic.Pointer[string]

	targets []targetStats

	mu      sync.Mutex
	latency *hdrhistogram.Histogram // reserve round trips, microseconds
	history []Attempt               // every attempt, when keepHistory
	seconds []Second                // the run second by second

	keepHistory bool
}

type targetStats struct {
	acknowledged atomic.Int64 // rooms clients were told are theirs
	unknown      atomic.Int64 // rooms in reserves whose outcome nobody knows
	soldOutAt    atomic.Int64 // nanoseconds after start when a client first saw it sold out; 0 = never

	mu           sync.Mutex
	reservations map[int64]int64 // reservation id -> rooms, as acknowledged
	// keyed records, per idempotency key, what the client was told:
	// the reservation, or 0 for "nothing was booked" (a 503 or 4xx, or
	// never sent). The checker holds each against what the key stores.
	keyed map[string]int64
	// toldTwice counts, per reservation told to more than one booking,
	// how many were told it; retold lists, per request told more than one
	// reservation (a replayed history only), what it was told.
	toldTwice map[int64]int
	retold    map[string][]int64
	// unknownKeys maps the stored key of each keyed booking whose outcome
	// stayed unknown to its rooms: what the lab asks the database about
	// once the run is over (TargetResult.UnknownKeys).
	unknownKeys map[string]int64
}

func newStats(targets int, keepHistory bool) *stats {
	s := &stats{
		start:       time.Now(),
		keepHistory: keepHistory,
		targets:     make([]targetStats, targets),
		// 1µs .. 10 min with 3 significant figures: a few dozen KB, exact
		// enough for p99 and max.
		latency: hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3),
	}
	for i := range s.targets {
		s.targets[i].reservations = map[int64]int64{}
		s.targets[i].keyed = map[string]int64{}
		s.targets[i].toldTwice = map[int64]int{}
		s.targets[i].retold = map[string][]int64{}
		s.targets[i].unknownKeys = map[string]int64{}
	}
	return s
}

// Second is one second of a run: the bookings made (acknowledged reserves
// and confirms), conflicts met and errors met in it. The series shows
// what a fault or a stall cost, and when the run recovered.
type Second struct {
	Bookings  int64 `json:"bookings"`
	Conflicts int64 `json:"conflicts"`
	Errors    int64 `json:"errors"`
}

// What tick counts; tickNothing only stretches the timeline to its moment.
const (
	tickNothing = iota
	tickBooking
	tickConflict
	tickError
)

// maxTimelineSeconds bounds the timeline to a day: a replayed history's
// clock gone astray must not allocate a year of seconds.
const maxTimelineSeconds = 24 * 60 * 60

// tick counts one event of kind in the second of the run that at falls in.
func (s *stats) tick(kind int, at time.Time) {
	i := int(at.Sub(s.start) / time.Second)
	if i < 0 || i > maxTimelineSeconds {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.seconds) <= i {
		s.seconds = append(s.seconds, Second{})
	}
	switch kind {
	case tickBooking:
		s.seconds[i].Bookings++
	case tickConflict:
		s.seconds[i].Conflicts++
	case tickError:
		s.seconds[i].Errors++
	}
}

// noteError remembers msg if it is the run's first error.
func (s *stats) noteError(msg string) {
	if msg != "" && s.firstError.Load() == nil {
		s.firstError.CompareAndSwap(nil, &msg)
	}
}

// recordAttempt adds an attempt to the history (kept when keepHistory).
func (s *stats) recordAttempt(a Attempt) {
	s.mu.Lock()
	s.history = append(s.history, a)
	s.mu.Unlock()
}

func (s *stats) recordLatency(d time.Duration) {
	s.mu.Lock()
	_ = s.latency.RecordValue(max(d.Microseconds(), 1))
	s.mu.Unlock()
}

// acknowledge records a booking told reservationID. A reservation told to
// a second booking is counted once in the rooms (they are the same rooms)
// and noted: the checker calls it a shared reservation.
func (s *stats) acknowledge(target int, reservationID, rooms int64) {
	t := &s.targets[target]
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, told := t.reservations[reservationID]; told {
		t.toldTwice[reservationID] = max(t.toldTwice[reservationID], 1) + 1
		return
	}
	t.acknowledged.Add(rooms)
	t.reservations[reservationID] = rooms
}

// recordKeyed writes down what a keyed booking was told: reservationID, or
// 0 when it was told nothing was booked.
func (s *stats) recordKeyed(target int, key string, reservationID int64) {
	if key == "" {
		return
	}
	t := &s.targets[target]
	t.mu.Lock()
	t.keyed[key] = reservationID
	t.mu.Unlock()
}

// recordUnknown counts a booking whose outcome nobody knows: its rooms
// may or may not be booked. key is its idempotency key as stored, "" when
// it had none.
func (s *stats) recordUnknown(target int, key string, rooms int64) {
	s.unknownRequests.Add(1)
	t := &s.targets[target]
	t.unknown.Add(rooms)
	if key != "" {
		t.mu.Lock()
		t.unknownKeys[key] = rooms
		t.mu.Unlock()
	}
}

// markSoldOut notes that a client saw target sold out at at. The earliest
// sighting counts: a replayed history's attempts complete out of order.
func (s *stats) markSoldOut(target int, at time.Time) {
	after := max(int64(at.Sub(s.start)), 1) // 0 means never
	soldOutAt := &s.targets[target].soldOutAt
	for seen := soldOutAt.Load(); seen == 0 || after < seen; seen = soldOutAt.Load() {
		if soldOutAt.CompareAndSwap(seen, after) {
			return
		}
	}
}

// result is the ledger and counts of a run over targets that ended at end,
// live or replayed from its history: both are summed, and their latency
// percentiles read, by this one function.
func (s *stats) result(targets []Target, end time.Time) Result {
	res := Result{
		Started: s.start,
		History: s.history,
		Seconds: s.seconds,
		Targets: make([]TargetResult, len(targets)),
		Requests: RequestCounts{
			Success:      s.success.Load(),
			Conflict:     s.conflict.Load(),
			SoldOut:      s.soldOut.Load(),
			Insufficient: s.insufficient.Load(),
			RoomsHeld:    s.roomsHeld.Load(),
			Error:        s.errors.Load(),
			Internal:     s.internal.Load(),
			Retries:      s.retries.Load(),
			Checks:       s.checks.Load(),
			Cancelled:    s.cancelled.Load(),
			Late:         s.late.Load(),
			Skipped:      s.skipped.Load(),
		},
		UnknownRequests: s.unknownRequests.Load(),
		GaveUp:          s.gaveUp.Load(),
		Replayed:        s.replayed.Load(),
		Holds: ClientHolds{
			Placed: s.holdsPlaced.Load(), Confirmed: s.holdsConfirmed.Load(),
			Abandoned: s.holdsAbandoned.Load(), ExpiredAtConfirm: s.holdsExpired.Load(),
			Unknown: s.holdsUnknown.Load(),
		},
	}
	if p := s.firstError.Load(); p != nil {
		res.Requests.FirstError = *p
	}
	if end.After(s.start) {
		res.Elapsed = end.Sub(s.start)
	}
	for i, t := range targets {
		ts := &s.targets[i]
		ts.mu.Lock()
		res.Targets[i] = TargetResult{
			Target:       t,
			Acknowledged: ts.acknowledged.Load(),
			Unknown:      ts.unknown.Load(),
			Reservations: ts.reservations,
			Keyed:        ts.keyed,
			ToldTwice:    ts.toldTwice,
			Retold:       ts.retold,
			UnknownKeys:  ts.unknownKeys,
			SoldOutAfter: time.Duration(ts.soldOutAt.Load()),
		}
		ts.mu.Unlock()
	}
	s.mu.Lock()
	if s.latency.TotalCount() > 0 {
		ms := func(us int64) float64 { return float64(us) / 1000 }
		res.Latency = LatencyMs{
			P50: ms(s.latency.ValueAtQuantile(50)),
			P90: ms(s.latency.ValueAtQuantile(90)),
			P99: ms(s.latency.ValueAtQuantile(99)),
			Max: ms(s.latency.Max()),
		}
	}
	s.mu.Unlock()
	return res
}

// Snapshot is a moment's view of a running load, for progress displays.
type Snapshot struct {
	Elapsed      time.Duration
	Acknowledged []int64 // per target
	SoldOut      []bool  // per target
	Success      int64
	Conflicts    int64
	Errors       int64
	Unknown      int64
	Requests     int64
}

func (s *stats) snapshot() Snapshot {
	snap := Snapshot{
		Elapsed:      time.Since(s.start),
		Acknowledged: make([]int64, len(s.targets)),
		SoldOut:      make([]bool, len(s.targets)),
		Success:      s.success.Load(),
		Conflicts:    s.conflict.Load(),
		Errors:       s.errors.Load(),
		Unknown:      s.unknownRequests.Load(),
	}
	snap.Requests = snap.Success + snap.Conflicts + snap.Errors + snap.Unknown +
		s.soldOut.Load() + s.insufficient.Load() + s.checks.Load()
	for i := range s.targets {
		snap.Acknowledged[i] = s.targets[i].acknowledged.Load()
		snap.SoldOut[i] = s.targets[i].soldOutAt.Load() != 0
	}
	return snap
}
