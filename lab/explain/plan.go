package explain

import "github.com/evento-lab/evento"

// A move is what a scenario plans for a session: one statement of the
// scenario's own (BEGIN, a hold's confirm, the key protocol), built when
// its turn comes from what that session has seen so far; or a phase of
// the subject's own Go code, which sends as many statements as it does.
type move struct {
	session int
	label   string // the spec's step name, after the session's
	build   func(s *sessionState) (planned, bool)
	// A phase of the subject's code, when build is nil: up to its first
	// write (the first statement it sends through Statements.Write) when
	// untilWrite, else to its end.
	untilWrite bool
	req        request
}

// planned is a built move.
type planned struct {
	stmt  Stmt
	role  role
	note  string
	final bool // the session has nothing more to do after this step
}

// sessionState is what one session has seen, and how it ended.
type sessionState struct {
	name string
	w    world
	conn *conn
	// outcome is the session's answer, as its Go code gives it: booked,
	// refused, conflict, aborted, replayed (empty while running).
	outcome  string
	booking  evento.Booking // what it booked, when it did
	lastRows int            // rows the last statement returned
	lastStep int            // index of its last step in the run, -1 before
	failed   *StepError
	ended    bool

	// The subject's code, once started: its statements arrive on asks;
	// held is one it sent that the schedule has not let run yet; returned
	// says it is over.
	asks     chan ask
	held     *ask
	returned bool
}

// world is the tiny hotel every run starts from.
type world struct{ eventID, hotelID, ehrID int64 }

// request is what a session asks for.
type request struct {
	name  string
	rooms int32
}

// bookRequest is req at the session's hotel.
func (s *sessionState) bookRequest(req request) evento.BookRequest {
	return evento.BookRequest{EventID: s.w.eventID, HotelID: s.w.hotelID, Name: req.name, Rooms: req.rooms}
}

// always builds a move that does not depend on what the session saw.
func always(session int, label string, p planned) move {
	return move{session: session, label: label, build: func(*sessionState) (planned, bool) { return p, true }}
}

// begin opens the session's transaction at the isolation level.
func begin(session int, isolation string) move {
	return always(session, "begin", planned{stmt: raw("BEGIN ISOLATION LEVEL " + isolation + ";")})
}

// read and write are the two phases of the subject's code: up to its
// first write, and from there to its end.
func read(session int, req request) move  { return move{session: session, untilWrite: true, req: req} }
func write(session int, req request) move { return move{session: session, req: req} }

// end ends the session's transaction as the write path (db/write.go)
// does: it commits what the code answered, a booking or a final refusal
// (evento.IsRefusal), and rolls back a conflict or an error.
func end(session int) move {
	return move{session: session, label: "end", build: func(s *sessionState) (planned, bool) {
		p := planned{stmt: raw("COMMIT;"), final: true}
		if s.failed != nil || s.outcome == "conflict" || s.outcome == "aborted" {
			p.stmt = raw("ROLLBACK;")
		}
		return p, true
	}}
}
