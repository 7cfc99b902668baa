package explain

// Step is one statement of a run's timeline: who sent it, the SQL, and
// what PostgreSQL answered.
type Step struct {
	N       int    `json:"n"`
	Session string `json:"session"`
	Name    string `json:"step"` // the spec's step name
	Stmt
	// Blocked: PostgreSQL showed the session waiting for a lock, with a
	// blocker in pg_locks, before the statement answered.
	Blocked        bool        `json:"blocked"`
	CompletedAfter int         `json:"completed_after,omitempty"` // the step that let a blocked one finish
	Columns        []string    `json:"columns,omitempty"`
	Rows           [][]*string `json:"rows,omitempty"`
	Error          *StepError  `json:"error,omitempty"`
	// Note says what the Go code made of the answers so far (a refusal
	// decided in Go, a conflict, a replay).
	Note string `json:"note,omitempty"`

	// What the answer means for the table: write, sent by the subject's
	// code through Statements.Write, books; hold confirms a hold.
	write, hold bool
	session     int        // index of Session in the run
	answer      chan reply // where the subject's code waits for the reply, if it sent the step
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
