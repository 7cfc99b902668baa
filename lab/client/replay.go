package client

import (
	"net/http"
	"slices"
	"time"
)

// Replay rebuilds a run's Result from its history (evento check merges
// several loads' histories into one): every attempt, sorted by invocation,
// of a run over targets that started at started. It feeds the stats the
// live clients keep, so a history is counted, and its latency percentiles
// read, exactly as the run that wrote it. RunID, Completed and GaveUp are
// the run lines' to say.
//
// Each request is folded as client.send decides what its client was told:
//   - one with an ok attempt was told its rooms are booked, under the
//     reservation that attempt names (under each, if ok attempts named
//     several: a request booked twice, in TargetResult.Retold);
//   - one whose last attempt settles it otherwise (a refusal), or whose
//     every attempt failed, was told nothing was booked;
//   - any other with a lost (info) attempt stays unknown: its rooms may or
//     may not be booked.
func Replay(targets []Target, started time.Time, history []Attempt) Result {
	if len(history) > 0 && (started.IsZero() || history[0].Invoked.Before(started)) {
		// Another machine's clock may run behind: the run starts at its
		// first attempt at the latest.
		started = history[0].Invoked
	}
	s := newStats(len(targets), true)
	s.start, s.history = started, history
	index := map[[2]int64]int{}
	for i, t := range targets {
		index[[2]int64{t.EventID, t.HotelID}] = i
	}
	requests := map[string][]Attempt{}
	end := started
	for _, a := range history {
		requests[a.Request] = append(requests[a.Request], a)
		s.replayAttempt(index[[2]int64{a.Event, a.Hotel}], a)
		if a.Completed.After(end) {
			end = a.Completed
		}
	}
	for _, attempts := range requests {
		s.replayRequest(index[[2]int64{attempts[0].Event, attempts[0].Hotel}], attempts)
	}
	return s.result(targets, end)
}

// replayAttempt counts one attempt's answer at target.
func (s *stats) replayAttempt(target int, a Attempt) {
	if a.Replayed {
		s.replayed.Add(1)
	}
	kind := tickNothing
	if a.Status == http.StatusInternalServerError {
		s.internal.Add(1)
	}
	if a.IsError() {
		s.errors.Add(1)
		s.noteError(a.Error)
		kind = tickError
	}
	switch a.Code {
	case "conflict", "request_in_progress":
		s.conflict.Add(1)
		kind = tickConflict
	case "sold_out":
		s.soldOut.Add(1)
		s.markSoldOut(target, a.Completed)
	case "insufficient_rooms":
		s.insufficient.Add(1)
	case "rooms_held":
		s.roomsHeld.Add(1)
	}
	if a.Class == ClassOK && a.Reservation != 0 {
		kind = tickBooking
	}
	s.tick(kind, a.Completed)
}

// replayRequest folds one request's attempts, in invocation order, into
// what its client was told at target.
func (s *stats) replayRequest(target int, attempts []Attempt) {
	first, last := attempts[0], attempts[len(attempts)-1]
	s.retries.Add(int64(len(attempts) - 1))
	lost := slices.ContainsFunc(attempts, func(a Attempt) bool { return a.Class == ClassInfo })
	unknown := lost && !last.settles()
	if first.Op == "hold" {
		if last.Class == ClassOK {
			s.holdsPlaced.Add(1)
		} else if unknown {
			s.holdsUnknown.Add(1)
		}
		return
	}
	if !first.Books() {
		return
	}
	// As the clients measure a booking: first attempt to last answer.
	s.recordLatency(last.Completed.Sub(first.Invoked))
	switch {
	case last.Class == ClassOK:
		if last.Reservation == 0 {
			return
		}
		s.success.Add(1)
		if first.Op == "confirm" {
			s.holdsConfirmed.Add(1)
		}
		// Every reservation an ok attempt named was told to the client:
		// two different ones (a replay that named another reservation, a
		// resend that booked again) are one request booked twice.
		var told []int64
		for _, a := range attempts {
			if a.Class == ClassOK && a.Reservation != 0 && !slices.Contains(told, a.Reservation) {
				told = append(told, a.Reservation)
				s.acknowledge(target, a.Reservation, first.Rooms)
			}
		}
		if len(told) > 1 {
			t := &s.targets[target]
			t.mu.Lock()
			t.retold[first.Request] = told
			t.mu.Unlock()
		}
		s.recordKeyed(target, first.KeyAsStored(), last.Reservation)
	case unknown:
		s.recordUnknown(target, first.KeyAsStored(), first.Rooms)
	default:
		s.recordKeyed(target, first.KeyAsStored(), 0)
	}
}

// settles reports whether an answer is final for its request: a success,
// or a refusal the server stores under the key or repeats to every resend
// (sold out, a hold expired, a bad request). After a lost attempt only such
// an answer tells what became of it; a conflict, request_in_progress, 503
// or an attempt never sent speaks of that attempt alone (client.send).
func (a Attempt) settles() bool {
	switch {
	case a.Class == ClassOK:
		return true
	case a.Class != ClassFail || a.Status < 400 || a.Status >= 500:
		return false
	}
	return a.Code != "conflict" && a.Code != "request_in_progress"
}

// Books reports whether the attempt's op books rooms when it succeeds.
func (a Attempt) Books() bool { return a.Op == "reserve" || a.Op == "confirm" }

// KeyAsStored is the attempt's idempotency key as the server stores it;
// "" without one.
func (a Attempt) KeyAsStored() string {
	if a.StoredKey != "" {
		return a.StoredKey
	}
	return a.Key
}
