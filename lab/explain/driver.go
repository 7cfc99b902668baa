package explain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
)

// stepTimeout bounds how long one statement may take to answer or to be
// seen waiting; a step still running after it is a bug in a scenario.
const stepTimeout = 10 * time.Second

// driver runs one plan as isolationtester does: after each step it waits
// until the step answers or PostgreSQL shows it waiting for a lock, then
// lets every waiting step that can now finish, finish. A step of a session
// still waiting runs once that session is free, after the other sessions'
// steps: the order the steps actually ran in is the permutation a spec replays.
type driver struct {
	monitor *pgxpool.Pool // sees the sessions from outside: pg_stat_activity, pg_locks
	subject subject
	states  []*sessionState
	steps   []Step
	events  []Event
	waiting []int          // indexes into steps, in the order they blocked
	names   map[string]int // how many steps bear each name so far
}

// inFlight says whether the session has a step waiting for a lock.
func (d *driver) inFlight(session int) bool {
	return slices.ContainsFunc(d.waiting, func(i int) bool { return d.steps[i].session == session })
}

// run executes the plan's moves. A phase of the subject's code that
// stopped at a lock wait stays where it was and goes on once its session is free.
func (d *driver) run(ctx context.Context, moves []move) error {
	for len(moves) > 0 {
		next := slices.IndexFunc(moves, func(m move) bool { return !d.inFlight(m.session) })
		if next < 0 {
			return errors.New("every remaining step belongs to a session waiting for a lock: the plan cannot go on")
		}
		m, s, done := moves[next], d.states[moves[next].session], true
		var err error
		switch {
		case m.build == nil:
			done, err = d.advance(ctx, m)
		case s.ended || (s.failed != nil && m.label != "end"):
		default:
			if p, ok := m.build(s); ok {
				_, err = d.launch(ctx, m.session, m.label, p, nil)
			}
		}
		if err != nil {
			return err
		}
		if done {
			moves = slices.Delete(moves, next, next+1)
		}
	}
	if len(d.waiting) > 0 {
		return fmt.Errorf("step %d (%s) still waits for a lock after the last step", d.steps[d.waiting[0]].N, d.steps[d.waiting[0]].Name)
	}
	for _, s := range d.states {
		if s.asks != nil && !s.returned {
			return fmt.Errorf("%s's code had not returned after the last step", s.name)
		}
	}
	return nil
}

// advance runs a phase of the session's code: each statement it sends is
// one step, until it returns or, with untilWrite, sends its first write
// (held back for the next phase). It answers false when a step waits for a
// lock: the phase goes on once the session is free.
func (d *driver) advance(ctx context.Context, m move) (bool, error) {
	s := d.states[m.session]
	if s.asks == nil {
		d.start(ctx, s, m.req)
	}
	for !s.returned {
		a := s.held
		s.held = nil
		if a == nil {
			select {
			case got := <-s.asks:
				a = &got
			case <-time.After(stepTimeout):
				return false, fmt.Errorf("%s's code neither sent a statement nor returned within %v", s.name, stepTimeout)
			}
		}
		if a.returned {
			return true, d.returned(s, *a)
		}
		if m.untilWrite && a.write {
			s.held = a
			return true, nil
		}
		// A step is named after the executor the code sent it through.
		label, p := "read", planned{stmt: a.stmt}
		if a.write {
			label, p.write = "write", true
		}
		blocked, err := d.launch(ctx, m.session, label, p, a.answer)
		if err != nil || blocked {
			return false, err
		}
	}
	return true, nil
}

// start runs the subject's code for req on a goroutine of its own, which
// ends when the code returns, or with ctx, the run's.
func (d *driver) start(ctx context.Context, s *sessionState, req evento.BookRequest) {
	s.asks = make(chan ask)
	types := pgtype.NewMap() // the goroutine's alone: a Map is not safe to share
	read := &stepper{asks: s.asks, types: types}
	write := &stepper{asks: s.asks, types: types, write: true}
	req.EventID, req.HotelID = eventID, hotelID
	book, asks := d.subject.book, s.asks
	go func() {
		_, err := book(ctx, read, write, req, s.key)
		select {
		case asks <- ask{returned: true, err: err}:
		case <-ctx.Done():
		}
	}()
}

// returned records the code's answer, and notes on its last step what Go
// made of the answers it read.
func (d *driver) returned(s *sessionState, a ask) error {
	s.returned = true
	var note string
	_, fromServer := errors.AsType[*pgconn.PgError](a.err)
	switch err := a.err; {
	case err == nil:
		s.outcome = "booked"
	case evento.IsRefusal(err):
		s.outcome, note = "refused", "Go: refused: "+err.Error()
	case errors.Is(err, evento.ErrConflict):
		s.outcome, note = "conflict", "Go: "+err.Error()+": "+d.subject.afterConflict()
	case fromServer:
		s.outcome = "aborted"
	default:
		return fmt.Errorf("%s's code failed: %w", s.name, err)
	}
	if note != "" && s.lastStep >= 0 {
		step := &d.steps[s.lastStep]
		step.Note = strings.TrimPrefix(step.Note+"; "+note, "; ")
	}
	return nil
}

// launch sends one step, records whether it answered or blocked, then settles
// the steps that were waiting. answer is where the code that sent it waits, if any.
func (d *driver) launch(ctx context.Context, session int, label string, p planned, answer chan reply) (bool, error) {
	s := d.states[session]
	step := Step{
		N: len(d.steps) + 1, Session: s.name, Name: d.stepName(s.name, label),
		Stmt: p.stmt, Note: p.note, write: p.write, hold: p.hold, answer: answer, session: session,
	}
	d.steps = append(d.steps, step)
	idx := len(d.steps) - 1
	s.lastStep = idx
	d.events = append(d.events, Event{Step: step.N})
	go func() { s.conn.done <- s.conn.exec(ctx, p.stmt.SQL) }()
	r, blocked, err := d.await(ctx, s.conn)
	if err != nil {
		return false, fmt.Errorf("step %d (%s): %w", step.N, step.Name, err)
	}
	if blocked {
		d.steps[idx].Blocked, d.waiting = true, append(d.waiting, idx)
	} else {
		d.complete(idx, r)
	}
	return blocked, d.settle(ctx, step.N)
}

// settle lets every waiting step no longer blocked finish, in the order
// they blocked, and records step after as what freed them.
func (d *driver) settle(ctx context.Context, after int) error {
	still := d.waiting[:0:0]
	for _, idx := range d.waiting {
		r, blocked, err := d.await(ctx, d.states[d.steps[idx].session].conn)
		if err != nil {
			return fmt.Errorf("step %d (%s): %w", d.steps[idx].N, d.steps[idx].Name, err)
		}
		if blocked {
			still = append(still, idx)
			continue
		}
		d.steps[idx].CompletedAfter = after
		d.events = append(d.events, Event{Step: d.steps[idx].N, Complete: true})
		d.complete(idx, r)
	}
	d.waiting = still
	return nil
}

// await waits for c's reply, or for PostgreSQL to show it blocked: waiting
// in pg_stat_activity for a lock that pg_locks (pg_blocking_pids) says
// someone holds. pg_locks stops saying so as soon as the holder commits,
// before the waiter wakes to clear its wait_event. A step no longer blocked answers.
func (d *driver) await(ctx context.Context, c *conn) (reply, bool, error) {
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		select {
		case r := <-c.done:
			return r, false, nil
		case <-time.After(2 * time.Millisecond):
		}
		var blocked bool
		if err := d.monitor.QueryRow(ctx, `
			SELECT coalesce(a.wait_event_type = 'Lock', false)
			       AND cardinality(pg_blocking_pids(a.pid)) > 0
			  FROM pg_stat_activity AS a
			 WHERE a.pid = $1`, int32(c.pg.PID())).Scan(&blocked); err != nil {
			return reply{}, false, fmt.Errorf("ask pg_stat_activity whether session %d waits: %w", c.pg.PID(), err)
		}
		if blocked {
			// A reply may have come in between; it wins.
			select {
			case r := <-c.done:
				return r, false, nil
			default:
			}
			return reply{}, true, nil
		}
	}
	return reply{}, false, fmt.Errorf("no answer and no lock wait after %v", stepTimeout)
}

// complete records a step's reply, and hands it to the code that sent it.
func (d *driver) complete(idx int, r reply) {
	step := &d.steps[idx]
	s := d.states[step.session]
	step.Rows = r.rows
	for _, f := range r.fields {
		step.Columns = append(step.Columns, f.Name)
	}
	s.lastRows = len(r.rows)
	if step.answer != nil {
		step.answer <- r
	}
	if r.err != nil {
		step.Error = &StepError{Severity: "ERROR", Message: r.err.Error()}
		if pgErr, ok := errors.AsType[*pgconn.PgError](r.err); ok {
			step.Error = &StepError{SQLState: pgErr.Code, Severity: pgErr.Severity, Message: pgErr.Message}
		}
		s.failed = step.Error
		if s.outcome == "" || s.outcome == "booked" {
			s.outcome = "aborted"
		}
		return
	}
	if step.hold {
		s.outcome = "refused"
		if len(r.rows) > 0 {
			s.outcome = "confirmed"
		}
	}
}

// stepName is the spec's name for a session's step: unique in the spec,
// as isolationtester requires.
func (d *driver) stepName(session, label string) string {
	name := session + "_" + label
	d.names[name]++
	if n := d.names[name]; n > 1 {
		return fmt.Sprintf("%s_%d", name, n)
	}
	return name
}

// sessionSetup is run on every session's connection before its first step,
// by Evento and by the spec alike (isolationtester prints nothing for it):
// timestamps then print the same way whatever the server's defaults are.
const sessionSetup = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY';"

// conn is one session's connection. It sends one statement at a time in
// the simple query protocol, as isolationtester (libpq's PQsendQuery)
// does, so results arrive as the same text isolationtester prints.
type conn struct {
	pg   *pgconn.PgConn
	done chan reply // the reply of the statement in flight
}

// reply is what a statement answered, in text format.
type reply struct {
	fields []pgconn.FieldDescription
	rows   [][]*string // nil is NULL
	tag    string
	err    error
}

func dial(ctx context.Context, url string) (*conn, error) {
	pg, err := pgconn.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect a session: %w", err)
	}
	// isolationtester sets this too: a NOTICE is no part of the outcome.
	if _, err := pg.Exec(ctx, "SET client_min_messages = warning; "+sessionSetup).ReadAll(); err != nil {
		pg.Close(context.Background())
		return nil, fmt.Errorf("set up a session: %w", err)
	}
	return &conn{pg: pg, done: make(chan reply, 1)}, nil
}

// exec runs sql and keeps its last result, as libpq's PQexec does. It reads
// the results itself: pgconn's Result leaves FieldDescriptions empty for a
// result without rows, whose header isolationtester prints too.
func (c *conn) exec(ctx context.Context, sql string) reply {
	mrr := c.pg.Exec(ctx, sql)
	var r reply
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		r = reply{fields: slices.Clone(rr.FieldDescriptions())}
		for rr.NextRow() {
			values := make([]*string, len(rr.Values()))
			for i, v := range rr.Values() {
				if v != nil { // pgconn reuses v's bytes for the next row
					s := string(v)
					values[i] = &s
				}
			}
			r.rows = append(r.rows, values)
		}
		tag, err := rr.Close()
		r.tag, r.err = tag.String(), err
	}
	if err := mrr.Close(); err != nil && r.err == nil {
		r.err = err
	}
	return r
}
