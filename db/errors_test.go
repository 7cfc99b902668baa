package db

import (
	"context"
	"errors"
	"fmt"
	"github.com/evento-lab/evento"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// A write may be called "unavailable" (nothing changed) only when that is
// certain; a failure after sending is an unknown outcome.
func TestClassifyWrite(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"no connection from the pool", &acquireError{context.DeadlineExceeded}, evento.ErrUnavailable},
		{"server shutting down before COMMIT", uncommitted(&pgconn.PgError{Code: pgerrcode.AdminShutdown}), evento.ErrUnavailable},
		{"server shutting down while COMMIT was in flight", fmt.Errorf("commit: %w", &pgconn.PgError{Code: pgerrcode.AdminShutdown}), evento.ErrOutcomeUnknown},
		{"connection lost before COMMIT", uncommitted(&connLostError{fmt.Errorf("read: %w", io.ErrUnexpectedEOF)}), evento.ErrUnavailable},
		{"COMMIT sent, connection closed (pgx says safe to retry)", fmt.Errorf("commit: %w", pgxSaysSafe{errors.New("conn closed")}), evento.ErrOutcomeUnknown},
		{"statement timeout answered by the server", &pgconn.PgError{Code: pgerrcode.QueryCanceled}, evento.ErrUnavailable},
		{"serialization failure", &pgconn.PgError{Code: pgerrcode.SerializationFailure}, evento.ErrConflict},
		{"deadlock", &pgconn.PgError{Code: pgerrcode.DeadlockDetected}, evento.ErrConflict},
		{"deadline inside a transaction, before COMMIT", uncommitted(fmt.Errorf("lock: %w", context.DeadlineExceeded)), evento.ErrUnavailable},
		{"deadline after sending", fmt.Errorf("commit: %w", context.DeadlineExceeded), evento.ErrOutcomeUnknown},
		{"connection broke after sending", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), evento.ErrOutcomeUnknown},
	}
	for _, c := range cases {
		got := classifyWrite(c.err)
		if !errors.Is(got, c.want) {
			t.Errorf("%s: classifyWrite(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
		if c.want == evento.ErrOutcomeUnknown && errors.Is(got, evento.ErrUnavailable) {
			t.Errorf("%s: an unknown outcome is also called unavailable", c.name)
		}
	}
}

// The capacity CHECK catching a write is a retryable conflict for naive,
// whose stale absolute write it was, and stays an internal error for a
// safe strategy, whose SQL it would prove wrong.
func TestCapacityCheckIsAConflictOnlyForUnsafeStrategies(t *testing.T) {
	t.Parallel()
	violation := &pgconn.PgError{Code: pgerrcode.CheckViolation, ConstraintName: capacityConstraint}
	naive, _ := LookupStrategy("naive")
	atomic, _ := LookupStrategy("atomic")
	if err := caughtBySafetyNet(naive, violation); !errors.Is(err, evento.ErrConflict) {
		t.Errorf("naive: %v, want conflict", err)
	}
	if err := caughtBySafetyNet(atomic, violation); errors.Is(err, evento.ErrConflict) || isDomain(err) {
		t.Errorf("atomic: %v, want the raw error", err)
	}
}

// pgxSaysSafe is an error pgconn.SafeToRetry calls safe, as pgx's "conn
// closed" after a lost COMMIT reply is.
type pgxSaysSafe struct{ error }

func (pgxSaysSafe) SafeToRetry() bool { return true }

// A domain error a write returns is its answer, and classifyWrite passes it
// on as it is: never marked as a write in doubt (outcome_unknown) or a
// database down. A shortfall of sharded inventory or held rooms, a hold
// over the client's cap and a missing API key once were, because isDomain
// kept its own list of domain errors and missed them.
func TestClassifyWriteKeepsDomainErrors(t *testing.T) {
	t.Parallel()
	cases := []error{
		&evento.ShortfallError{Requested: 2, Bucketed: 3},
		&evento.ShortfallError{Requested: 2, Held: 2, HeldUntil: time.Now().Add(time.Minute)},
		&evento.HoldLimitError{Held: 10, Requested: 1, Limit: 10},
	}
	for _, e := range evento.Errors() {
		cases = append(cases, e)
	}
	for _, err := range cases {
		if got := classifyWrite(err); got != err {
			t.Errorf("classifyWrite(%v) = %v, want it unchanged", err, got)
		}
	}
}

// A read, or a write PostgreSQL refused before anything was committed,
// that failed because the database went away or ran out of something is
// unavailable (503 with Retry-After), never an internal error: by SQLSTATE
// class (08 connection, 53 insufficient resources, 57 operator
// intervention) and by the connection breaking mid-reply. An immediate
// shutdown cut reads with "unexpected EOF" and a full disk answered 53100,
// and both were 500s.
func TestClassifyCallsEveryFaultUnavailable(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name string
		err  error
	}{
		{"read cut by an immediate shutdown", fmt.Errorf("read availability: %w", io.ErrUnexpectedEOF)},
		{"disk full", &pgconn.PgError{Code: pgerrcode.DiskFull}},
		{"out of memory", &pgconn.PgError{Code: pgerrcode.OutOfMemory}},
		{"too many connections", &pgconn.PgError{Code: pgerrcode.TooManyConnections}},
		{"configuration limit exceeded", &pgconn.PgError{Code: pgerrcode.ConfigurationLimitExceeded}},
		{"crash shutdown", &pgconn.PgError{Code: pgerrcode.CrashShutdown}},
		{"connection failure", &pgconn.PgError{Code: pgerrcode.ConnectionFailure}},
	}
	for _, f := range faults {
		if got := classify(f.err); !errors.Is(got, evento.ErrUnavailable) {
			t.Errorf("%s: classify(%v) = %v, want unavailable", f.name, f.err, got)
		}
		if got := classifyWrite(uncommitted(f.err)); !errors.Is(got, evento.ErrUnavailable) {
			t.Errorf("%s before COMMIT: classifyWrite = %v, want unavailable", f.name, got)
		}
	}
	// PostgreSQL's own refusal of the COMMIT, for lack of disk: nothing
	// was committed.
	if got := classifyWrite(fmt.Errorf("commit: %w", &pgconn.PgError{Code: pgerrcode.DiskFull})); !errors.Is(got, evento.ErrUnavailable) {
		t.Errorf("COMMIT refused for a full disk: %v, want unavailable", got)
	}
	// A bug is still a bug.
	if got := classify(&pgconn.PgError{Code: pgerrcode.UndefinedColumn}); errors.Is(got, evento.ErrUnavailable) {
		t.Errorf("an undefined column is called unavailable: %v", got)
	}
}
