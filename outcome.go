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
	// Refusal, when set, is a final "no" (IsRefusal): asking again with
	// the same request would get the same answer. Value is then the zero
	// value. Only a refusal that judged the hotel's rooms is stored under
	// the request's key (Kept).
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
// write that was done (a booking, a hold, a confirmation, a release), or a
// refusal that judged the hotel's rooms or a hold's fate (KeptRefusal).
// Any other refusal (something not found, bad input) is answered afresh on
// a retry, with the same answer: keeping it would let anyone fill the key
// table with rows kept for a day, at no cost, and squat keys that others
// will use later.
func (o Outcome[T]) Kept() bool {
	return o.Refusal == nil || matchesKind(o.Refusal, KeptRefusal)
}

// IsRefusal reports whether err is a final refusal: the request was
// understood and answered "no", and repeating it changes nothing. Every
// other error (a conflict, the database unavailable, a key in use) is
// retryable or a bug, and is never stored under an idempotency key; nor
// is a refusal that is not Kept.
func IsRefusal(err error) bool {
	return matchesKind(err, Refusal, KeptRefusal)
}

// matchesKind reports whether err matches any domain error of one of
// those kinds, whatever else it matches: one pass over the errors.
func matchesKind(err error, kinds ...Kind) bool {
	return slices.ContainsFunc(errorsInOrder, func(e *Error) bool { return slices.Contains(kinds, e.Kind) && errors.Is(err, e) })
}
