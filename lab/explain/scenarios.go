package explain

import (
	"time"

	"github.com/evento-lab/evento"
)

// Scenario is one fixed interleaving, run once per subject.
type Scenario struct {
	Name      string `json:"name"`
	Summary   string `json:"summary"`
	holdRooms int32  // when set, a hold the setup places before the sessions start
	// applies says why a subject has no run in this scenario (n/a in the
	// table), or "" when it has one.
	applies func(p subject) string
	moves   func(p subject) []move
}

// Rooms is the tiny hotel's size: each session asks for both rooms (but in
// hold-vs-booking), so that any two bookings that both succeed overbook it.
const Rooms = 2

var alice, bob = evento.BookRequest{Name: "alice", Rooms: Rooms}, evento.BookRequest{Name: "bob", Rooms: Rooms}

// Scenarios lists the scenarios, in the order of the table's columns.
func Scenarios() []Scenario {
	return []Scenario{
		{
			Name:    "lost-update",
			Summary: "both sessions read the counter, both write: r1 r2 w1 w2 c1 c2",
			applies: strategiesOnly,
			moves:   bothReadThenWrite,
		},
		{
			Name:    "check-then-act",
			Summary: "queries/check_then_act.sql (an anti-pattern, not a strategy): read what is left, then reserved = reserved + n",
			applies: func(p subject) string {
				if !p.strategy {
					return ""
				}
				return "the anti-pattern's own SQL: see its rows"
			},
			moves: bothReadThenWrite,
		},
		{
			Name:      "hold-vs-booking",
			Summary:   "a confirm of a 1-room hold (queries/holds.sql) races a 1-room booking for the last rooms",
			holdRooms: 1,
			applies: func(p subject) string {
				if p.buckets > 0 {
					return "holds take rooms from the hotel's row, and this hotel's are in buckets"
				}
				return strategiesOnly(p)
			},
			moves: func(p subject) []move {
				a := evento.BookRequest{Name: "alice", Rooms: 1}
				return []move{begin(0, p.isolation), read(0, a), begin(1, readCommitted), confirmHold(1),
					write(0, a), end(1), end(0)}
			},
		},
		{
			Name:    "stale-availability",
			Summary: "s1 is shown 2 rooms left, s2 books them, then s1 books on that advice",
			applies: strategiesOnly,
			moves: func(p subject) []move {
				return []move{showAvailability(0), begin(1, p.isolation), read(1, bob), write(1, bob),
					end(1), begin(0, p.isolation), read(0, alice), write(0, alice), end(0)}
			},
		},
		{
			Name:    "duplicate-request",
			Summary: "the same request, same idempotency key, sent twice at once (queries/idempotency.sql)",
			applies: strategiesOnly,
			moves: func(p subject) []move {
				return []move{begin(0, p.isolation), claimKey(0, "claim", p.isolation, false), read(0, alice), write(0, alice),
					begin(1, p.isolation), claimKey(1, "claim", p.isolation, false), keyBusy(1), waitForKey(1),
					end(0),
					always(1, "retry", planned{stmt: raw("BEGIN ISOLATION LEVEL " + p.isolation + ";")}),
					claimKey(1, "reclaim", p.isolation, true), replay(1), end(1)}
			},
		},
	}
}

func strategiesOnly(p subject) string {
	if !p.strategy {
		return "not a strategy"
	}
	return ""
}

// bothReadThenWrite is r1 r2 w1 w2 c1 c2, as far as the subject lets it:
// each session runs its code up to its first write, then on.
func bothReadThenWrite(p subject) []move {
	return []move{begin(0, p.isolation), begin(1, p.isolation),
		read(0, alice), read(1, bob), write(0, alice), write(1, bob), end(0), end(1)}
}

// holdHandle and idempotencyKey are fixed, so that every run and every
// spec prints the same.
const (
	holdHandle     = "explain-hold"
	idempotencyKey = "explain-key"
	fingerprint    = "explain-fingerprint"
	keyTTLSeconds  = 86400
	keyWaitMillis  = 2000 // db's wait for a busy key
)

func confirmHold(session int) move {
	return always(session, "confirm", planned{hold: true, stmt: mustNamed("ConfirmHold", map[string]any{
		"handle": holdHandle, "client_id": nil, "event_id": eventID, "hotel_id": hotelID,
	})})
}

// showAvailability is what GET /{event}/available shows a client, outside
// any transaction.
func showAvailability(session int) move {
	return always(session, "available", planned{stmt: mustNamed("GetHotelAvailability", map[string]any{
		"event_id": eventID, "hotel_id": hotelID,
	}), note: "shown to the client: advice, not a promise"})
}

// claimKey locks the key as db/idempotency.go does, a lock and a read,
// which arms the key for the booking's reservation (the key comes with the
// work). The read looks for the key among bookings under READ COMMITTED,
// and under SERIALIZABLE only on a rerun after the key was met in use
// (afterWait: the session waited for the request that held it); a first
// SERIALIZABLE claim reads no reservation, so that it predicate-locks no
// page of their key index.
func claimKey(session int, label, isolation string, afterWait bool) move {
	probe := isolation != serializable || afterWait
	note := ""
	if !probe {
		note = "Go: a first attempt under SERIALIZABLE does not look among bookings; a booking's INSERT that meets the key is undone, and the rerun looks"
	}
	return move{session: session, label: label, build: func(s *sessionState) (planned, bool) {
		s.key = &evento.IdempotencyKey{Key: idempotencyKey, Fingerprint: fingerprint, Keep: keyTTLSeconds * time.Second}
		return planned{stmt: mustNamed("LockIdempotencyKeys", map[string]any{
			"keys": []string{idempotencyKey}, "booking_key": idempotencyKey,
			"booking_fingerprint": fingerprint, "booking_keep_seconds": keyTTLSeconds,
			"probe_bookings": probe,
		}), note: note}, true
	}}
}

// keyBusy is db/idempotency.go's answer to a claim that locked nothing: a
// request with this key is running, so wait for it outside any transaction.
func keyBusy(session int) move {
	return move{session: session, label: "busy", build: func(s *sessionState) (planned, bool) {
		return planned{stmt: raw("ROLLBACK;"),
			note: "Go: the claim locked no key, so a request holding it is running: roll back, wait outside any transaction"}, s.lastRows == 0
	}}
}

func waitForKey(session int) move {
	return always(session, "wait", planned{stmt: mustNamed("WaitForIdempotencyKey", map[string]any{
		"wait_ms": keyWaitMillis, "key": idempotencyKey,
	})})
}

// replay reads the stored outcome of a key the session locked but did not
// own: the answer it gives its client, without booking.
func replay(session int) move {
	return move{session: session, label: "replay", build: func(s *sessionState) (planned, bool) {
		s.outcome = "replayed"
		return planned{stmt: mustNamed("GetIdempotencyOutcomes", map[string]any{"keys": []string{idempotencyKey}}),
			note: "Go: the key is stored: replay its outcome, book nothing"}, true
	}}
}

// A move is what a scenario plans for a session: a statement of the
// scenario's own (BEGIN, a hold's confirm, the key protocol), built when
// its turn comes from what that session has seen so far; or, when build
// is nil, a phase of the subject's own Go code, which sends as many
// statements as it does: up to its first write (the first statement sent
// through Statements.Write) when untilWrite, else to its end.
type move struct {
	session    int
	label      string // the spec's step name, after the session's
	build      func(s *sessionState) (planned, bool)
	untilWrite bool
	req        evento.BookRequest // the phase's request, at the session's hotel
}

// planned is a built move.
type planned struct {
	stmt        Stmt
	note        string
	write, hold bool // as Step's
}

// sessionState is what one session has seen, and how it ended.
type sessionState struct {
	name string
	conn *conn
	// outcome is the session's answer, as its Go code gives it: booked,
	// refused, conflict, aborted, replayed (empty while running).
	outcome  string
	key      *evento.IdempotencyKey // the key it claimed (claimKey), if any
	lastRows int                    // rows the last statement returned
	lastStep int                    // index of its last step in the run, -1 before
	failed   *StepError
	ended    bool // after its last step: nothing more runs for it

	// The subject's code, once started: its statements arrive on asks;
	// held is one it sent that the schedule has not let run yet.
	asks     chan ask
	held     *ask
	returned bool
}

// always builds a move that does not depend on what the session saw.
func always(session int, label string, p planned) move {
	return move{session: session, label: label, build: func(*sessionState) (planned, bool) { return p, true }}
}

func begin(session int, isolation string) move {
	return always(session, "begin", planned{stmt: raw("BEGIN ISOLATION LEVEL " + isolation + ";")})
}

// read and write are the two phases of the subject's code.
func read(session int, req evento.BookRequest) move {
	return move{session: session, untilWrite: true, req: req}
}
func write(session int, req evento.BookRequest) move { return move{session: session, req: req} }

// end ends the session's transaction as the write path (db/engine.go)
// does: it commits what the code answered, a booking or a final refusal
// (evento.IsRefusal), and rolls back a conflict or an error.
func end(session int) move {
	return move{session: session, label: "end", build: func(s *sessionState) (planned, bool) {
		s.ended = true
		p := planned{stmt: raw("COMMIT;")}
		if s.failed != nil || s.outcome == "conflict" || s.outcome == "aborted" {
			p.stmt = raw("ROLLBACK;")
		}
		return p, true
	}}
}
