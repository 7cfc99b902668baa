package evento

import (
	"errors"
	"slices"
)

// Outcome is how a write ended: its value, or a final refusal. It is what
// an idempotency key keeps and replays, so the API renders a replay exactly
// as it rendered the first answer.
type Outcome[T any] struct {
	Value T
	// Refusal, when set, is the answer "no" (IsRefusal). Value is then the
	// zero value. No refusal is stored under the request's key (Kept).
	Refusal error
	// Replayed is true when the outcome was stored by an earlier request
	// with the same idempotency key: nothing was done this time.
	Replayed bool
}

// Done is the outcome of a write that succeeded.
func Done[T any](v T) Outcome[T] { return Outcome[T]{Value: v} }

// Refused is the outcome of a write that was finally refused.
func Refused[T any](refusal error) Outcome[T] { return Outcome[T]{Refusal: refusal} }

// Kept reports whether an idempotency key keeps this outcome to replay: a
// write that was done (a booking, a hold, a confirmation), what a retry
// must never do twice. A refusal did nothing, so a retry is answered
// afresh: rooms_held, sold_out or insufficient_rooms may have changed
// since (holds end, bookings are cancelled), and a hold's fate reads the
// same from the hold. Keeping refusals replayed a stale rooms_held for a
// day, and let a client grow the key table by a row per request, at no
// cost, with a new key each time on a sold-out hotel.
func (o Outcome[T]) Kept() bool {
	return o.Refusal == nil
}

// IsRefusal reports whether err is a refusal: the request was understood
// and answered "no", and nothing was written. Every other error (a
// conflict, the database unavailable, a key in use) is retryable or a
// bug. Neither is stored under an idempotency key.
func IsRefusal(err error) bool {
	return matchesKind(err, Refusal)
}

// matchesKind reports whether err matches any domain error of one of
// those kinds, whatever else it matches: one pass over the errors.
func matchesKind(err error, kinds ...Kind) bool {
	return slices.ContainsFunc(errorsInOrder, func(e *Error) bool { return slices.Contains(kinds, e.Kind) && errors.Is(err, e) })
}
