package explain

import (
	"strconv"
)

// A move is one step a scenario plans for a session. It is built when its
// turn comes, from what that session has seen so far: naive's write needs
// the counter its read returned, and a session the strategy's Go code
// refused stops there.
type move struct {
	session int
	label   string // the spec's step name, after the session's
	build   func(s *sessionState) (planned, bool)
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
	w    *world
	vars map[string]string // the columns of the first row of each read
	// outcome is the session's answer, as the strategy's Go code gives it:
	// booked, refused, conflict, aborted, replayed (empty while running).
	outcome       string
	reservationID string
	zeroRows      bool // the last booking statement booked nothing
	lastRows      int  // rows the last statement returned
	failed        *StepError
	ended         bool
}

// world is the tiny hotel every run starts from.
type world struct {
	eventID, hotelID, ehrID int64
	hotelName               string
	assigned                int32
}

// request is what a session asks for.
type request struct {
	name  string
	rooms int32
}

func (s *sessionState) int(column string) int32 {
	n, _ := strconv.ParseInt(s.vars[column], 10, 32)
	return int32(n)
}

// available is what the session's last read left for it: what every
// strategy's Go code computes before it writes.
func (s *sessionState) available() int32 {
	if v, ok := s.vars["available"]; ok {
		n, _ := strconv.ParseInt(v, 10, 32)
		return int32(n)
	}
	return s.int("assigned") - s.int("reserved") - s.int("locked")
}

// always builds a move that does not depend on what the session saw.
func always(session int, label string, p planned) move {
	return move{session: session, label: label, build: func(*sessionState) (planned, bool) { return p, true }}
}

// begin opens the session's transaction at the isolation level.
func begin(session int, isolation string) move {
	return always(session, "begin", planned{stmt: raw("BEGIN ISOLATION LEVEL " + isolation + ";")})
}

// end commits what the session booked, or rolls back a refusal, a conflict
// or an error, as the write path does when a strategy returns one.
func end(session int) move {
	return move{session: session, label: "end", build: func(s *sessionState) (planned, bool) {
		p := planned{stmt: raw("COMMIT;"), final: true}
		if s.failed != nil || s.outcome == "refused" || s.outcome == "conflict" {
			p.stmt = raw("ROLLBACK;")
		}
		return p, true
	}}
}

// decide is the check every read-then-write strategy makes in Go: refuse
// (and roll back) when fewer rooms are left than asked for.
func decide(s *sessionState, req request, write func() planned) planned {
	if left := s.available(); left < req.rooms {
		s.outcome = "refused"
		return planned{
			stmt:  raw("ROLLBACK;"),
			note:  "Go: " + strconv.Itoa(int(left)) + " rooms left, " + strconv.Itoa(int(req.rooms)) + " asked: refused",
			final: true,
		}
	}
	return write()
}
