package evento

import (
	"errors"
	"fmt"
	"time"
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
	// ErrRoomsHeld means the rooms asked for are not free now but are held:
	// when holds expire or are released they come back, so the client
	// should wait and ask again rather than stop (as sold out tells it to).
	ErrRoomsHeld = errors.New("rooms held")
	// ErrInventorySharded means the hotel's free rooms are in its buckets
	// (the sharded strategy's layout), which only mode sharded books: the
	// hotel is not sold out, but this mode, or a hold, cannot take them.
	ErrInventorySharded = errors.New("inventory sharded")
	// ErrHoldLimit means the client already holds as many rooms as it may
	// at once.
	ErrHoldLimit = errors.New("hold limit reached")
	// ErrUnauthenticated means the request carries no valid API key.
	ErrUnauthenticated = errors.New("unauthenticated")
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

// HoldNotFound is the refusal for a hold that is not there, not the
// asker's, or named by a wrong handle: one answer, word for word, so that
// a guess learns nothing. It does not repeat the handle, a secret.
func HoldNotFound(eventID, hotelID int64) error {
	return &NotFoundError{What: fmt.Sprintf("that hold of event %d hotel %d", eventID, hotelID)}
}

// ShortfallError reports a request refused for lack of rooms. It matches
// ErrInventorySharded when free rooms are in buckets the request could not
// reach, ErrRoomsHeld when the request would fit in the free rooms plus
// those in live holds, else ErrSoldOut when nothing is left and
// ErrInsufficientRooms otherwise, and carries the availability the
// decision was based on.
type ShortfallError struct {
	Available int32
	Requested int32
	// Held is the rooms in live holds; HeldUntil when the soonest of them
	// expires. Zero when nothing was held.
	Held      int32
	HeldUntil time.Time
	// Bucketed is the free rooms in the hotel's buckets, for a request
	// that could not take them (any but a sharded booking); else zero.
	Bucketed int32
}

func (e *ShortfallError) Error() string {
	switch {
	case e.Bucketed > 0:
		return fmt.Sprintf("inventory sharded: %d requested, %d free in the hotel's row and %d in its buckets, which only mode sharded books", e.Requested, max(e.Available, 0), e.Bucketed)
	case e.roomsHeld():
		return fmt.Sprintf("rooms held: %d requested, %d free and %d in holds that may be released or expire", e.Requested, max(e.Available, 0), e.Held)
	case e.Available <= 0 && e.Held == 0:
		return fmt.Sprintf("sold out: %d rooms requested, none left", e.Requested)
	case e.Held > 0:
		return fmt.Sprintf("insufficient rooms: %d requested, %d free and %d in holds", e.Requested, max(e.Available, 0), e.Held)
	}
	return fmt.Sprintf("insufficient rooms: %d requested, %d left", e.Requested, e.Available)
}

func (e *ShortfallError) roomsHeld() bool {
	return e.Held > 0 && e.Requested <= max(e.Available, 0)+e.Held
}

// Is lets errors.Is(err, ErrInventorySharded), errors.Is(err,
// ErrRoomsHeld), errors.Is(err, ErrSoldOut) and errors.Is(err,
// ErrInsufficientRooms) work on a *ShortfallError.
func (e *ShortfallError) Is(target error) bool {
	switch {
	case e.Bucketed > 0:
		return target == ErrInventorySharded
	case e.roomsHeld():
		return target == ErrRoomsHeld
	case e.Available <= 0 && e.Held == 0:
		return target == ErrSoldOut
	}
	// Some rooms left, or some held: fewer than asked may still come, so
	// not "sold out", which tells a client to stop.
	return target == ErrInsufficientRooms
}

// HoldLimitError refuses a hold that would take the client over its cap on
// rooms held at once. It matches ErrHoldLimit.
type HoldLimitError struct {
	Held, Requested, Limit int32
}

func (e *HoldLimitError) Error() string {
	return fmt.Sprintf("hold limit: this client holds %d rooms, may hold %d at once, and asked for %d more", e.Held, e.Limit, e.Requested)
}

// Is lets errors.Is(err, ErrHoldLimit) work on a *HoldLimitError.
func (e *HoldLimitError) Is(target error) bool { return target == ErrHoldLimit }

// CheckFits returns a *ShortfallError when rooms do not fit in available.
func CheckFits(available, rooms int32) error {
	if rooms > available {
		return &ShortfallError{Available: max(available, 0), Requested: rooms}
	}
	return nil
}
