package evento

import (
	"errors"
	"fmt"
)

// Domain errors. Callers check them with errors.Is; the api package maps each
// to one HTTP status and a stable code, in one place.
var (
	// ErrNotFound means the event, the hotel within the event, or the hold
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnknownMode means no strategy has the name asked for.
	ErrUnknownMode = errors.New("unknown mode")
	// ErrSoldOut means the hotel has no room left for the event.
	ErrSoldOut = errors.New("sold out")
	// ErrInsufficientRooms means some rooms are left, but fewer than asked.
	ErrInsufficientRooms = errors.New("insufficient rooms")
	// ErrConflict means a concurrent writer won the race and nothing was
	// written; retrying may succeed.
	ErrConflict = errors.New("conflict with a concurrent reservation")
	// ErrUnavailable means the database could not be reached or did not
	// answer in time, and nothing was changed; retrying later may succeed.
	ErrUnavailable = errors.New("database unavailable")
	// ErrOutcomeUnknown means a write was sent but its outcome never came
	// back (a timeout or a broken connection after sending, COMMIT
	// included): it may or may not have been made. Retrying blindly could
	// book twice; retrying with the same idempotency key cannot.
	ErrOutcomeUnknown = errors.New("outcome unknown: the database did not confirm the write")

	// ErrHoldExpired, ErrHoldReleased and ErrHoldConfirmed mean the hold
	// exists but can no longer become a reservation (or be released).
	ErrHoldExpired   = errors.New("hold expired")
	ErrHoldReleased  = errors.New("hold released")
	ErrHoldConfirmed = errors.New("hold already confirmed")

	// ErrKeyReused means the idempotency key was first used for a
	// different request.
	ErrKeyReused = errors.New("idempotency key reused for a different request")
	// ErrRequestInProgress means a request with the same key is still
	// running after the wait a duplicate is allowed; retrying shortly
	// replays its outcome.
	ErrRequestInProgress = errors.New("a request with this idempotency key is in progress")
)

// NotFoundError names what was not found, in words a client can be shown.
// It matches ErrNotFound.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + ": not found" }

// Is lets errors.Is(err, ErrNotFound) work on a *NotFoundError.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// HotelNotFound is the refusal for a hotel that is not part of the event.
func HotelNotFound(eventID, hotelID int64) error {
	return &NotFoundError{What: fmt.Sprintf("event %d hotel %d", eventID, hotelID)}
}

// ShortfallError reports a request refused for lack of rooms. It matches
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

// CheckFits returns a *ShortfallError when rooms do not fit in available.
func CheckFits(available, rooms int32) error {
	if rooms > available {
		return &ShortfallError{Available: max(available, 0), Requested: rooms}
	}
	return nil
}
