package explain

import "github.com/evento-lab/evento"

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
	stmt Stmt
	role role
	note string
}

// sessionState is what one session has seen, and how it ended.
type sessionState struct {
	name string
	conn *conn
	// outcome is the session's answer, as its Go code gives it: booked,
	// refused, conflict, aborted, replayed (empty while running).
	outcome  string
	booking  evento.Booking // what it booked, when it did
	lastRows int            // rows the last statement returned
	lastStep int            // index of its last step in the run, -1 before
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
