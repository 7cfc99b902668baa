package explain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// stepTimeout bounds how long one statement may take to answer or to be
// seen waiting; a step still running after it is a bug in a scenario.
const stepTimeout = 10 * time.Second

// driver runs one plan: it launches the planned steps in order, and, as
// isolationtester does, after each launch waits until the step answers or
// PostgreSQL shows it waiting for a lock; then it lets every waiting step
// that can now finish, finish. A planned step of a session that is still
// waiting is run as soon as that session is free, and the steps of the
// other sessions go first: the order the steps actually ran in is the
// permutation a spec replays.
type driver struct {
	monitor  *pgx.Conn // sees the sessions from outside: pg_stat_activity, pg_locks
	conns    []*conn
	states   []*sessionState
	steps    []Step
	events   []Event
	waiting  []int // indexes into steps, in the order they blocked
	sessions []string
}

// inFlight says whether the session has a step waiting for a lock.
func (d *driver) inFlight(session int) bool {
	for _, i := range d.waiting {
		if d.sessionIndex(d.steps[i].Session) == session {
			return true
		}
	}
	return false
}

func (d *driver) sessionIndex(name string) int {
	for i, n := range d.sessions {
		if n == name {
			return i
		}
	}
	return -1
}

// run executes the plan's moves.
func (d *driver) run(ctx context.Context, moves []move) error {
	pending := moves
	for len(pending) > 0 {
		next := -1
		for i, m := range pending {
			if !d.inFlight(m.session) {
				next = i
				break
			}
		}
		if next < 0 {
			return errors.New("every remaining step belongs to a session waiting for a lock: the plan cannot go on")
		}
		m := pending[next]
		pending = append(pending[:next:next], pending[next+1:]...)
		s := d.states[m.session]
		if s.ended || (s.failed != nil && m.label != "end") {
			continue
		}
		p, ok := m.build(s)
		if !ok {
			continue
		}
		if err := d.launch(ctx, m, p); err != nil {
			return err
		}
	}
	if len(d.waiting) > 0 {
		return fmt.Errorf("step %d (%s) still waits for a lock after the last step", d.steps[d.waiting[0]].N, d.steps[d.waiting[0]].Name)
	}
	return nil
}

// launch sends one step, records whether it answered or blocked, then
// settles the steps that were waiting.
func (d *driver) launch(ctx context.Context, m move, p planned) error {
	s := d.states[m.session]
	step := Step{
		N: len(d.steps) + 1, Session: s.name, Name: d.stepName(s.name, m.label),
		Stmt: p.stmt, Note: p.note, role: p.role,
	}
	d.steps = append(d.steps, step)
	idx := len(d.steps) - 1
	d.events = append(d.events, Event{Step: step.N})
	c := d.conns[m.session]
	c.send(ctx, p.stmt.SQL)
	r, blocked, err := d.await(ctx, c, true)
	if err != nil {
		return fmt.Errorf("step %d (%s): %w", step.N, step.Name, err)
	}
	if blocked {
		d.steps[idx].Blocked = true
		d.waiting = append(d.waiting, idx)
	} else {
		d.complete(idx, r)
	}
	if p.final {
		s.ended = true
	}
	return d.settle(ctx, step.N)
}

// settle lets every waiting step that is no longer blocked finish, in the
// order they blocked, and records that step after as what freed them.
func (d *driver) settle(ctx context.Context, after int) error {
	still := d.waiting[:0:0]
	for _, idx := range d.waiting {
		c := d.conns[d.sessionIndex(d.steps[idx].Session)]
		r, blocked, err := d.await(ctx, c, false)
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

// await waits for c's reply, or, with a fresh step, for PostgreSQL to show
// it blocked. A step that was already seen blocked is asked once more:
// still blocked, or no longer (then its reply is waited for, as it must
// come).
func (d *driver) await(ctx context.Context, c *conn, fresh bool) (reply, bool, error) {
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		select {
		case r := <-c.done:
			return r, false, nil
		case <-time.After(2 * time.Millisecond):
		}
		blocked, err := d.blocked(ctx, c.pid)
		if err != nil {
			return reply{}, false, err
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

// blocked asks PostgreSQL whether the backend waits for a lock another
// backend holds. pg_stat_activity says it waits for a lock; pg_locks
// (through pg_blocking_pids) says someone still holds it, which is true
// at once when the holder commits, before the waiter has woken up to
// clear its wait_event.
func (d *driver) blocked(ctx context.Context, pid uint32) (bool, error) {
	var blocked bool
	err := d.monitor.QueryRow(ctx, `
		SELECT coalesce(a.wait_event_type = 'Lock', false)
		       AND cardinality(pg_blocking_pids(a.pid)) > 0
		  FROM pg_stat_activity AS a
		 WHERE a.pid = $1`, int32(pid)).Scan(&blocked)
	if err != nil {
		return false, fmt.Errorf("ask pg_stat_activity whether session %d waits: %w", pid, err)
	}
	return blocked, nil
}

// complete records a step's reply and what the strategy's Go code makes
// of it.
func (d *driver) complete(idx int, r reply) {
	step := &d.steps[idx]
	s := d.states[d.sessionIndex(step.Session)]
	step.Columns, step.Rows = r.columns, r.rows
	s.lastRows = len(r.rows)
	if r.err != nil {
		pgErr := pgError(r.err)
		if pgErr == nil {
			step.Error = &StepError{Severity: "ERROR", Message: r.err.Error()}
		} else {
			step.Error = &StepError{SQLState: pgErr.Code, Severity: pgErr.Severity, Message: pgErr.Message}
		}
		s.failed = step.Error
		if s.outcome == "" || s.outcome == "booked" {
			s.outcome = "aborted"
		}
		return
	}
	first := map[string]string{}
	if len(r.rows) > 0 {
		for i, col := range r.columns {
			if v := r.rows[0][i]; v != nil {
				first[col] = *v
			}
		}
	}
	switch step.role {
	case roleRead:
		for k, v := range first {
			s.vars[k] = v
		}
	case roleWrite, roleGuarded, roleCAS:
		s.zeroRows = len(r.rows) == 0
		switch {
		case !s.zeroRows:
			s.outcome, s.reservationID = "booked", first["id"]
		case step.role == roleCAS:
			s.outcome = "conflict"
			step.Note = "Go: the row changed since it was read: conflict, the client retries"
		}
	case roleHold:
		if len(r.rows) > 0 {
			s.outcome = "confirmed"
		} else {
			s.outcome = "refused"
		}
	case roleBatch:
		if first["booked"] == "t" {
			s.outcome, s.reservationID = "booked", first["reservation_id"]
		} else {
			s.outcome = "refused"
			step.Note = "the batch's own check refused it: " + first["left_before"] + " rooms left"
		}
	}
}

// stepName is the spec's name for a session's step: unique in the spec,
// as isolationtester requires.
func (d *driver) stepName(session, label string) string {
	name := session + "_" + label
	n := 1
	for _, s := range d.steps {
		if s.Name == name || strings.HasPrefix(s.Name, name+"_") {
			n++
		}
	}
	if n > 1 {
		name = fmt.Sprintf("%s_%d", name, n)
	}
	return name
}
