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

	success, conflict, soldOut, insufficient, roomsHeld, errors, retries, checks, unknownRequests atomic.Int64
	gaveUp                                                                                        atomic.Int64 // clients that stopped after only errors for RetryBudget
	replayed                                                                                      atomic.Int64 // answers replayed from an idempotency key
	// late and skipped count open-model arrivals that started more than
	// lateAfter after their intended start, or not within skipAfter.
	late, skipped atomic.Int64
	// cancelled counts requests in flight when the run itself ended (its
	// timeout, Ctrl-C): not errors; with a key, resent until resolved.
	cancelled atomic.Int64
	// firstError is the first error the clients met, as observed: what a
	// report may name as the cause of the errors, instead of a guess.
	firstError atomic.Pointer[string]

	holdsPlaced, holdsConfirmed, holdsAbandoned, holdsExpired, holdsUnknown atomic.Int64

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

// What tick counts.
const (
	tickBooking = iota
	tickConflict
	tickError
)

// tick counts one event of kind in the current second of the run.
func (s *stats) tick(kind int) {
	i := int(time.Since(s.start) / time.Second)
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

// noteError remembers err if it is the run's first.
func (s *stats) noteError(err error) {
	if err != nil && s.firstError.Load() == nil {
		msg := err.Error()
		s.firstError.CompareAndSwap(nil, &msg)
	}
}

func (s *stats) recordLatency(d time.Duration) {
	s.mu.Lock()
	_ = s.latency.RecordValue(max(d.Microseconds(), 1))
	s.mu.Unlock()
}

func (s *stats) acknowledge(target int, reservationID, rooms int64) {
	t := &s.targets[target]
	t.acknowledged.Add(rooms)
	t.mu.Lock()
	t.reservations[reservationID] = rooms
	t.mu.Unlock()
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

func (s *stats) markSoldOut(target int) {
	at := int64(time.Since(s.start))
	s.targets[target].soldOutAt.CompareAndSwap(0, at)
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
