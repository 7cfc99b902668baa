package db

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Domain errors. Callers check them with errors.Is; the api package maps each
// to one HTTP status and a stable code.
var (
	// ErrNotFound means the event, or the hotel within the event, does not exist.
	ErrNotFound = errors.New("not found")
	// ErrSoldOut means the hotel has no room left for the event.
	ErrSoldOut = errors.New("sold out")
	// ErrInsufficientRooms means some rooms are left, but fewer than asked.
	ErrInsufficientRooms = errors.New("insufficient rooms")
	// ErrConflict means a concurrent writer won the race; retrying may succeed.
	ErrConflict = errors.New("conflict with a concurrent reservation")
	// ErrUnavailable means the database could not be reached or did not answer
	// in time, and nothing was changed; retrying later may succeed.
	ErrUnavailable = errors.New("database unavailable")
	// ErrOutcomeUnknown means a write was sent but its outcome never came
	// back (a timeout or a broken connection after sending, COMMIT
	// included): it may or may not have been made. Retrying blindly could
	// book twice; retrying with the same idempotency key cannot.
	ErrOutcomeUnknown = errors.New("outcome unknown: the database did not confirm the write")
)

// NotFoundError names what was not found, in words a client can be shown.
// It matches ErrNotFound.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + ": not found" }

// Is lets errors.Is(err, ErrNotFound) work on a *NotFoundError.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func hotelNotFound(eventID, hotelID int64) error {
	return &NotFoundError{What: fmt.Sprintf("event %d hotel %d", eventID, hotelID)}
}

// ShortfallError reports a reservation refused for lack of rooms. It matches
// ErrSoldOut when nothing is left and ErrInsufficientRooms otherwise, and
// carries the availability the decision was based on.
type ShortfallError struct {
	Available int32
	Requested int32
}

func (e *ShortfallError) Error() string {
	if e.Available <= 0 {
		return fmt.Sprintf("sold out: %d rooms requested, none left", e.Requested)
	}
	return fmt.Sprintf("insufficient rooms: %d requested, %d left", e.Requested, e.Available)
}

// Is lets errors.Is(err, ErrSoldOut) and errors.Is(err, ErrInsufficientRooms)
// work on a *ShortfallError.
func (e *ShortfallError) Is(target error) bool {
	if e.Available <= 0 {
		return target == ErrSoldOut
	}
	return target == ErrInsufficientRooms
}

func isShortfall(err error) bool {
	var shortfall *ShortfallError
	return errors.As(err, &shortfall)
}

// checkFits returns a *ShortfallError when rooms do not fit in available.
func checkFits(available, rooms int32) error {
	if rooms > available {
		return &ShortfallError{Available: max(available, 0), Requested: rooms}
	}
	return nil
}

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
	if IsUnavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
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
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.As(err, &notCommitted), errors.As(err, &pgErr):
		// It failed inside a transaction before COMMIT was sent, or
		// PostgreSQL itself refused it: either way nothing was committed.
		return classify(err)
	case IsUnavailable(err) || errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
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
	return fmt.Errorf("%w: %w", ErrConflict, err)
}

// caughtBySafetyNet maps an unsafe strategy's write that hit the schema's
// capacity CHECK (naive's absolute counter racing a hold) to a retryable
// conflict: nothing was written. For a safe strategy the same error means
// its SQL is wrong, and it stays loud (500).
func caughtBySafetyNet(s Strategy, err error) error {
	var pgErr *pgconn.PgError
	if !s.Safe && errors.As(err, &pgErr) && pgErr.Code == pgerrcode.CheckViolation && pgErr.ConstraintName == capacityConstraint {
		return fmt.Errorf("%w: %w", ErrConflict, err)
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
		ErrNotFound, ErrSoldOut, ErrInsufficientRooms, ErrConflict, ErrUnavailable,
		ErrHoldExpired, ErrHoldReleased, ErrHoldConfirmed, ErrKeyReused, ErrRequestInProgress, ErrOutcomeUnknown,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// IsUnavailable reports whether err means the database could not be reached,
// went away, or did not answer before the deadline.
func IsUnavailable(err error) bool {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
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
