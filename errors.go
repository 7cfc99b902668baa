package evento

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Domain errors, each with its code: the one list of the codes Evento
// answers with (Errors), from which api, db and lab/client derive theirs.
// Callers check them with errors.Is. They are declared in order of
// precedence: an error that matches two (a refusal wrapped in another
// error) is answered as the first (ErrorOf).
var (
	// ErrInventorySharded means the hotel's free rooms are in its buckets
	// (the sharded strategy's layout), which only mode sharded books: the
	// hotel is not sold out, but this mode, or a hold, cannot take them.
	ErrInventorySharded = newError("inventory_sharded", 409, Failure, "inventory sharded")
	// ErrRoomsHeld means the rooms asked for are not free now but are held:
	// when holds expire or are released they come back, so the client
	// should wait and ask again rather than stop (as sold out tells it to).
	ErrRoomsHeld = newError("rooms_held", 409, Refusal, "rooms held")
	// ErrSoldOut means the hotel has no room left for the event.
	ErrSoldOut = newError("sold_out", 409, Refusal, "sold out")
	// ErrInsufficientRooms means some rooms are left, but fewer than asked.
	ErrInsufficientRooms = newError("insufficient_rooms", 409, Refusal, "insufficient rooms")
	// ErrHoldLimit means the client already holds as many rooms as it may
	// at once.
	ErrHoldLimit = newError("hold_limit", 429, Failure, "hold limit reached")
	// ErrClientLimit means the client already has, booked or held, as
	// many rooms at the event as it may: one buyer cannot take a whole
	// sale. Not kept under a key: a cancel or a released hold frees the
	// allowance, and the same request may then book.
	ErrClientLimit = newError("client_limit", 409, Refusal, "client limit reached")
	// ErrHoldCooldown means the client's last hold at this hotel ended (it
	// was released or expired) too recently for it to hold there again.
	ErrHoldCooldown = newError("hold_cooldown", 429, Failure, "hold cooldown")
	// ErrUnauthenticated means the request carries no valid API key.
	ErrUnauthenticated = newError("unauthenticated", 401, Failure, "unauthenticated")
	// ErrNotFound means the event, the hotel within the event, or the hold
	// does not exist.
	ErrNotFound = newError("not_found", 404, Refusal, "not found")
	// ErrUnknownMode means no strategy has the name asked for.
	ErrUnknownMode = newError("unknown_mode", 400, Failure, "unknown mode")

	// ErrHoldExpired, ErrHoldReleased and ErrHoldConfirmed mean the hold
	// exists but can no longer become a reservation (or be released).
	ErrHoldExpired   = newError("hold_expired", 409, Refusal, "hold expired")
	ErrHoldReleased  = newError("hold_released", 409, Refusal, "hold released")
	ErrHoldConfirmed = newError("hold_confirmed", 409, Refusal, "hold already confirmed")

	// ErrKeyReused means the idempotency key was first used for a
	// different request.
	ErrKeyReused = newError("idempotency_key_reused", 422, Failure, "idempotency key reused for a different request")
	// ErrRequestInProgress means a request with the same key is still
	// running after the wait a duplicate is allowed; retrying shortly
	// replays its outcome.
	ErrRequestInProgress = newError("request_in_progress", 409, Failure, "a request with this idempotency key is in progress")
	// ErrConflict means a concurrent writer won the race and nothing was
	// written; retrying may succeed.
	ErrConflict = newError("conflict", 409, Failure, "conflict with a concurrent reservation")
	// ErrOutcomeUnknown means a write was sent but its outcome never came
	// back (a timeout or a broken connection after sending, COMMIT
	// included): it may or may not have been made. Retrying blindly could
	// book twice; retrying with the same idempotency key cannot. It comes
	// after the refusals, which it may wrap.
	ErrOutcomeUnknown = newError("outcome_unknown", 504, Failure, "outcome unknown: the database did not confirm the write")
	// ErrUnavailable means the database could not be reached or did not
	// answer in time, and nothing was changed; retrying later may succeed.
	ErrUnavailable = newError("unavailable", 503, Failure, "database unavailable")

	// The API's own refusals of a request's form, made before any domain
	// work, and its answer to a bug. They are here so that the list of
	// codes is one.
	ErrInvalidRequest = newError("invalid_request", 400, Failure, "invalid request")
	// ErrDuplicateField refuses a JSON body that names a field twice:
	// readers disagree on which copy counts (encoding/json takes the last).
	ErrDuplicateField = newError("duplicate_field", 400, Failure, "duplicate field")
	// ErrTransferEncoding refuses a request body sent with
	// Transfer-Encoding: framing it two ways is how requests are smuggled
	// past a proxy, and no Evento body needs more than a Content-Length.
	ErrTransferEncoding = newError("transfer_encoding", 400, Failure, "transfer encoding refused")
	// ErrRateLimited means the client sent more requests than its share
	// (serve --rate-limit); Retry-After says when the next one is welcome.
	ErrRateLimited          = newError("rate_limited", 429, Failure, "rate limited")
	ErrModeDisabled         = newError("mode_disabled", 403, Failure, "mode disabled on this server")
	ErrMethodNotAllowed     = newError("method_not_allowed", 405, Failure, "method not allowed")
	ErrPayloadTooLarge      = newError("payload_too_large", 413, Failure, "payload too large")
	ErrUnsupportedMediaType = newError("unsupported_media_type", 415, Failure, "unsupported media type")
	ErrInternal             = newError("internal", 500, Failure, "internal error")
)

// Error is a domain error with its code; its fields are a contract
// (api/openapi.yaml, and the refusals idempotency keys have stored).
type Error struct {
	Code   string // the API's code; a key stores a refusal without facts by it
	Status int    // the HTTP status the API answers with (a number: no net/http here)
	Kind   Kind
	text   string
}

func (e *Error) Error() string { return e.text }

// Kind says whether an error is an answer to the request (a refusal) or no
// answer at all. No refusal is kept under an idempotency key (Outcome.Kept).
type Kind int

const (
	Failure Kind = iota // no answer: retryable, in doubt, or a request refused before any work
	Refusal             // an answer, "no" (IsRefusal), given afresh to a retry
)

// errorsInOrder is every Error; newError adds to it, so that declaring an
// error is all it takes to list its code (as flag.String registers a flag).
// Go initializes package variables in the order they are declared, so it
// is in the order of precedence.
var errorsInOrder []*Error

func newError(code string, status int, kind Kind, text string) *Error {
	e := &Error{Code: code, Status: status, Kind: kind, text: text}
	errorsInOrder = append(errorsInOrder, e)
	return e
}

// Errors lists every domain error, so every code, in order of precedence.
func Errors() []*Error { return slices.Clone(errorsInOrder) }

// ErrorOf is the first domain error, in order of precedence, that err
// matches (errors.Is); nil when it matches none.
func ErrorOf(err error) *Error {
	return firstError(func(e *Error) bool { return errors.Is(err, e) })
}

// ErrorWithCode is the domain error with that code, nil when there is none
// (an answer that is not Evento's, such as a proxy's).
func ErrorWithCode(code string) *Error {
	return firstError(func(e *Error) bool { return e.Code == code })
}

func firstError(match func(*Error) bool) *Error {
	if i := slices.IndexFunc(errorsInOrder, match); i >= 0 {
		return errorsInOrder[i]
	}
	return nil
}

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

// ClientLimitError refuses a booking or a hold that would take the client
// over its limit of rooms at one event. It matches ErrClientLimit.
type ClientLimitError struct {
	EventID        int64
	Has, Requested int32
	Limit          int32
}

func (e *ClientLimitError) Error() string {
	return fmt.Sprintf("client limit: this client has %d rooms at event %d (booked or held), may have %d, and asked for %d more", e.Has, e.EventID, e.Limit, e.Requested)
}

// Is lets errors.Is(err, ErrClientLimit) work on a *ClientLimitError.
func (e *ClientLimitError) Is(target error) bool { return target == ErrClientLimit }

// ReservationNotFound is the refusal for a reservation that is not there,
// not the asker's, or not of that hotel: one answer, as for holds.
func ReservationNotFound(eventID, hotelID, id int64) error {
	return &NotFoundError{What: fmt.Sprintf("reservation %d of event %d hotel %d", id, eventID, hotelID)}
}

// HoldCooldownError refuses a hold at a hotel where the client's last hold
// ended less than Cooldown ago; it may hold there again at Until. It
// matches ErrHoldCooldown.
type HoldCooldownError struct {
	Cooldown time.Duration
	Until    time.Time
}

func (e *HoldCooldownError) Error() string {
	return fmt.Sprintf("hold cooldown: this client's last hold at this hotel ended less than %s ago; it may hold here again at %s, and book without a hold at any time",
		e.Cooldown, e.Until.UTC().Format(time.RFC3339))
}

// Is lets errors.Is(err, ErrHoldCooldown) work on a *HoldCooldownError.
func (e *HoldCooldownError) Is(target error) bool { return target == ErrHoldCooldown }

// CheckFits returns a *ShortfallError when rooms do not fit in available.
func CheckFits(available, rooms int32) error {
	if rooms > available {
		return &ShortfallError{Available: max(available, 0), Requested: rooms}
	}
	return nil
}
