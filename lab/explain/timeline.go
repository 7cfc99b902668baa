package explain

// Step is one statement of a run's timeline: who sent it, the SQL, and
// what PostgreSQL answered.
type Step struct {
	N       int    `json:"n"`
	Session string `json:"session"`
	Name    string `json:"step"` // the spec's step name
	Stmt
	// Blocked: PostgreSQL showed the session waiting for a lock
	// (pg_stat_activity.wait_event_type = 'Lock', with a blocker in
	// pg_locks) before the statement answered.
	Blocked bool `json:"blocked"`
	// CompletedAfter is the step whose completion let a blocked step
	// finish (0 when it did not block).
	CompletedAfter int         `json:"completed_after,omitempty"`
	Columns        []string    `json:"columns,omitempty"`
	Rows           [][]*string `json:"rows,omitempty"`
	Error          *StepError  `json:"error,omitempty"`
	// Note says what the strategy's Go code made of the answers so far
	// (a refusal decided in Go, a conflict, a replay).
	Note string `json:"note,omitempty"`

	role    role
	session int        // index of Session in the run
	answer  chan reply // where the subject's code waits for the reply, if it sent the step
}

// StepError is a statement's error, by its SQLSTATE.
type StepError struct {
	SQLState string `json:"sqlstate"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// Event is one line of the timeline in the order it happened: a step
// launched (and perhaps answered at once), or a blocked step answering.
type Event struct {
	Step     int  `json:"step"`
	Complete bool `json:"completes_blocked_step,omitempty"`
}

// role says what a step's answer means. The table is computed from these
// meanings, from the subject's own answers and from what PostgreSQL did.
type role int

const (
	roleControl role = iota // BEGIN, COMMIT, ROLLBACK, the key protocol
	roleWrite               // sent by the subject's code through Statements.Write: it books
	roleHold                // a hold's statement (not a booking of the session's own)
)
