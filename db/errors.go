package db

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
)

// unavailableCodes are SQLSTATEs after which the same request may succeed
// once the server is back or less busy.
var unavailableCodes = map[string]bool{
	pgerrcode.AdminShutdown:         true,
	pgerrcode.CrashShutdown:         true,
	pgerrcode.CannotConnectNow:      true,
	pgerrcode.TooManyConnections:    true,
	pgerrcode.QueryCanceled:         true,
	pgerrcode.LockNotAvailable:      true,
	pgerrcode.DatabaseDropped:       true,
	pgerrcode.IdleSessionTimeout:    true,
	pgerrcode.InsufficientResources: true,
}

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

// classifyWrite is classify for writes, which must not call an error
// "unavailable" (nothing changed, retry freely) unless that is certain:
// the connection was never had, nothing was sent, or PostgreSQL itself
// answered with an error (the statement, or the whole transaction, rolled
// back). Anything else that broke after sending is ErrOutcomeUnknown.
func classifyWrite(err error) error {
	if err == nil || isDomain(err) {
		return err
	}
	if conflict := asConflict(err); conflict != nil {
		return conflict
	}
	var pgErr *pgconn.PgError
	var acquire *acquireError
	var notCommitted *uncommittedError
	switch {
	case errors.As(err, &acquire), pgconn.SafeToRetry(err):
		return fmt.Errorf("%w: %w", evento.ErrUnavailable, err)
	case errors.As(err, &notCommitted), errors.As(err, &pgErr):
		// It failed inside a transaction before COMMIT was sent, or
		// PostgreSQL itself refused it: either way nothing was committed.
		return classify(err)
	case isUnavailable(err) || errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", evento.ErrOutcomeUnknown, err)
	default:
		return err
	}
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

// uncommittedError marks an error returned inside a transaction, before
// COMMIT was sent: the transaction cannot have committed.
type uncommittedError struct{ err error }

func (e *uncommittedError) Error() string { return e.err.Error() }
func (e *uncommittedError) Unwrap() error { return e.err }

// uncommitted marks err (if any) as returned before COMMIT.
func uncommitted(err error) error {
	if err == nil {
		return nil
	}
	return &uncommittedError{err}
}

// acquireError marks a failure to get a pooled connection: nothing was
// sent, so the outcome is known.
type acquireError struct{ err error }

func (e *acquireError) Error() string { return "acquire connection: " + e.err.Error() }
func (e *acquireError) Unwrap() error { return e.err }

// withConn runs fn on a connection of its own, so that a write's failure
// to even start is told apart from a failure after sending.
func withConn(ctx context.Context, pool *pgxpool.Pool, fn func(conn *pgxpool.Conn) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return &acquireError{err}
	}
	defer conn.Release()
	return fn(conn)
}

// capacityConstraint is the CHECK (reserved + locked <= assigned) of
// sql/00001_schema.sql.
const capacityConstraint = "event_hotel_rooms_within_assigned"

func isDomain(err error) bool {
	for _, target := range []error{
		evento.ErrNotFound, evento.ErrSoldOut, evento.ErrInsufficientRooms, evento.ErrConflict, evento.ErrUnavailable,
		evento.ErrHoldExpired, evento.ErrHoldReleased, evento.ErrHoldConfirmed, evento.ErrKeyReused,
		evento.ErrRequestInProgress, evento.ErrOutcomeUnknown, evento.ErrUnknownMode,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// isUnavailable reports whether err means the database could not be reached,
// went away, or did not answer before the deadline.
func isUnavailable(err error) bool {
	if errors.Is(err, evento.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgerrcode.IsConnectionException(pgErr.Code) || unavailableCodes[pgErr.Code]
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

func isShortfall(err error) bool {
	var shortfall *evento.ShortfallError
	return errors.As(err, &shortfall)
}
