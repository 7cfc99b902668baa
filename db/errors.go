package db

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
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
	// in time; retrying later may succeed.
	ErrUnavailable = errors.New("database unavailable")
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

// classify marks errors that mean "the database is not answering" with
// ErrUnavailable, keeping the original error in the chain for logs.
func classify(err error) error {
	if err == nil || isDomain(err) {
		return err
	}
	if IsUnavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.CheckViolation && pgErr.ConstraintName == capacityConstraint {
		// A write computed from a stale read (naive's absolute counter
		// racing a hold) hit the schema's safety net. Nothing was written;
		// the client may retry.
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// capacityConstraint is the CHECK (reserved + locked <= assigned) of
// sql/00001_schema.sql.
const capacityConstraint = "event_hotel_rooms_within_assigned"

func isDomain(err error) bool {
	for _, target := range []error{
		ErrNotFound, ErrSoldOut, ErrInsufficientRooms, ErrConflict, ErrUnavailable,
		ErrHoldExpired, ErrHoldReleased, ErrHoldConfirmed, ErrKeyReused, ErrRequestInProgress,
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
