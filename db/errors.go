package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evento-lab/evento"
)

// classify marks errors of reads, and of writes whose outcome is known,
// that mean "the database is not answering" with ErrUnavailable, keeping
// the original error in the chain for logs.
func classify(err error) error {
	if err == nil || isDomain(err) {
		return err
	}
	if conflict := asConflict(err); conflict != nil {
		return conflict
	}
	if isUnavailable(err) {
		return fmt.Errorf("%w: %w", evento.ErrUnavailable, err)
	}
	return err
}

// classifyWrite is classify for writes, by WHEN the error happened, never
// by pgx's guess (pgconn.SafeToRetry says "conn closed, safe" for a COMMIT
// whose reply was lost: a fault test reproduces it):
//   - no connection, or nothing sent yet, or failed inside a transaction
//     before COMMIT was sent: nothing was committed. A lost connection is
//     ErrUnavailable; PostgreSQL's own refusal is classified as a read's.
//   - COMMIT (or an autocommit statement) was sent: PostgreSQL's own error
//     reply means it did not commit; anything else - no reply, a broken
//     connection, a session ended by the server - is ErrOutcomeUnknown.
func classifyWrite(err error) error {
	if err == nil || isDomain(err) {
		return err
	}
	var acquire *acquireError
	var notCommitted *uncommittedError
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &acquire):
		return fmt.Errorf("%w: %w", evento.ErrUnavailable, err)
	case errors.As(err, &notCommitted):
		// classify names a conflict: a serialization failure is PostgreSQL's
		// own answer, so it takes the first branch below.
		if errors.As(err, &pgErr) || !connectionLost(err) {
			return classify(err)
		}
		return fmt.Errorf("%w: %w", evento.ErrUnavailable, err)
	case errors.As(err, &pgErr) && !sessionEnded(pgErr):
		return classify(err)
	default:
		return fmt.Errorf("%w: %w", evento.ErrOutcomeUnknown, err)
	}
}

// connectionLost reports errors that mean the session is gone or never
// answered, rather than a bug in how a statement was built or read.
func connectionLost(err error) bool {
	var lost *connLostError
	return errors.As(err, &lost) || isUnavailable(err) || errors.Is(err, context.Canceled)
}

// sessionEnded reports PostgreSQL errors that end the session (a shutdown,
// a crash, a terminated backend, a lost connection) rather than refuse one
// statement: sent while COMMIT was in flight, they do not say it failed.
// A canceled statement (57014) is a refusal: it did not commit.
func sessionEnded(pgErr *pgconn.PgError) bool {
	return pgErr.Code != pgerrcode.QueryCanceled &&
		(strings.HasPrefix(pgErr.Code, "57") || pgerrcode.IsConnectionException(pgErr.Code) ||
			pgErr.Code == pgerrcode.IdleInTransactionSessionTimeout)
}

// asConflict recognises PostgreSQL's answers that mean "a concurrent
// transaction got in the way; nothing was written; try again".
func asConflict(err error) error {
	if !isSerializationFailure(err) {
		return nil
	}
	return fmt.Errorf("%w: %w", evento.ErrConflict, err)
}

// caughtBySafetyNet maps an unsafe strategy's write that hit the schema's
// capacity CHECK (naive's absolute counter racing a hold) to a retryable
// conflict: nothing was written. For a safe strategy the same error means
// its SQL is wrong, and it stays loud (500).
func caughtBySafetyNet(s Strategy, err error) error {
	var pgErr *pgconn.PgError
	if !s.Safe && errors.As(err, &pgErr) && pgErr.Code == pgerrcode.CheckViolation && pgErr.ConstraintName == capacityConstraint {
		return fmt.Errorf("%w: %w", evento.ErrConflict, err)
	}
	return err
}

// uncommittedError marks an error that cannot have committed anything:
// returned inside a transaction before COMMIT was sent, by BEGIN, or by a
// statement that was never sent.
type uncommittedError struct{ err error }

func (e *uncommittedError) Error() string { return e.err.Error() }
func (e *uncommittedError) Unwrap() error { return e.err }

// uncommitted marks err (if any) as one that committed nothing.
func uncommitted(err error) error {
	if err == nil {
		return nil
	}
	return &uncommittedError{err}
}

// connLostError marks an error after which pgx had closed the connection.
type connLostError struct{ err error }

func (e *connLostError) Error() string { return e.err.Error() }
func (e *connLostError) Unwrap() error { return e.err }

// acquireError marks a failure to get a pooled connection: nothing was
// sent, so the outcome is known.
type acquireError struct{ err error }

func (e *acquireError) Error() string { return "acquire connection: " + e.err.Error() }
func (e *acquireError) Unwrap() error { return e.err }

// capacityConstraint is the CHECK (reserved + locked <= assigned) of
// sql/00001_schema.sql.
const capacityConstraint = "event_hotel_rooms_within_assigned"

// isDomain reports whether err is already a domain answer (any of
// evento.Errors), which classify and classifyWrite pass on as it is.
func isDomain(err error) bool {
	return evento.ErrorOf(err) != nil
}

// isUnavailable reports whether err means the database could not be reached,
// went away, or did not answer before the deadline.
func isUnavailable(err error) bool {
	if errors.Is(err, evento.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// By class, so that no fault is missed by a list: the connection
		// (08), the server out of disk, memory or connections (53), shut
		// down, restarting or cancelling (57); a lock not had in time; and
		// a session ended for idling in its transaction past the pool's
		// bound (25P03), which a server frozen mid-transaction meets when
		// it goes on.
		return pgerrcode.IsConnectionException(pgErr.Code) || pgerrcode.IsInsufficientResources(pgErr.Code) ||
			pgerrcode.IsOperatorIntervention(pgErr.Code) || pgErr.Code == pgerrcode.LockNotAvailable ||
			pgErr.Code == pgerrcode.IdleInTransactionSessionTimeout
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// The connection broke mid-reply (an immediate shutdown, a
		// killed backend). Of a write, classifyWrite asks first whether
		// it was sent.
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// isConflict says a write lost to a concurrent one and wrote nothing:
// PostgreSQL rolled it back (isSerializationFailure), or the strategy
// found the row changed since it read it (evento.ErrConflict).
func isConflict(err error) bool {
	return isSerializationFailure(err) || errors.Is(err, evento.ErrConflict)
}

// isSerializationFailure reports PostgreSQL's "run it again" answers: the
// transaction was rolled back because it could not be serialized with a
// concurrent one, or was picked as a deadlock victim.
func isSerializationFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) &&
		(pgErr.Code == pgerrcode.SerializationFailure || pgErr.Code == pgerrcode.DeadlockDetected)
}
