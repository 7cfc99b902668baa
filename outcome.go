package evento

import "errors"

// Outcome is how a write ended: its value, or a final refusal. It is what
// an idempotency key keeps and replays, so the API renders a replay exactly
// as it rendered the first answer.
type Outcome[T any] struct {
	Value T
	// Refusal, when set, is a final "no" (IsRefusal): asking again with
	// the same request would get the same answer, so it is stored under
	// the request's key like a success. Value is then the zero value.
	Refusal error
	// Replayed is true when the outcome was stored by an earlier request
	// with the same idempotency key: nothing was done this time.
	Replayed bool
}

// Done is the outcome of a write that succeeded.
func Done[T any](v T) Outcome[T] { return Outcome[T]{Value: v} }

// Refused is the outcome of a write that was finally refused.
func Refused[T any](refusal error) Outcome[T] { return Outcome[T]{Refusal: refusal} }

// refusals are the errors that are final answers rather than failures.
var refusals = []error{ErrNotFound, ErrSoldOut, ErrInsufficientRooms, ErrRoomsHeld, ErrHoldExpired, ErrHoldReleased, ErrHoldConfirmed}

// IsRefusal reports whether err is a final refusal: the request was
// understood and answered "no", and repeating it changes nothing. Every
// other error (a conflict, the database unavailable, a key in use) is
// retryable or a bug, and is never stored under an idempotency key.
func IsRefusal(err error) bool {
	for _, target := range refusals {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
