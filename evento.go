// Package evento is the domain: what a booking, a hold and an outcome are,
// the errors every layer agrees on, and Service, the one door through which
// the HTTP layer reaches the data layer. It imports nothing of HTTP or SQL,
// so both sides depend on it and never on each other (the Standard Package
// Layout): api renders what Service returns, db implements Service, and
// cmd/evento wires the two together.
package evento

import "context"

// Service is every operation the API offers, one method each. Writes take an
// optional idempotency key and return an Outcome; an error means nothing
// final happened (retryable, or a bug) and nothing was stored under the key.
type Service interface {
	// Strategies lists the reserve modes, in the order reports show them.
	Strategies() []string
	Reserve(ctx context.Context, mode string, req BookRequest, key *IdempotencyKey) (Outcome[Booking], error)
	PlaceHold(ctx context.Context, req HoldRequest, key *IdempotencyKey) (Outcome[Hold], error)
	ConfirmHold(ctx context.Context, ref HoldRef, key *IdempotencyKey) (Outcome[Confirmation], error)
	// ReleaseHold gives a hold's rooms back; releasing twice is not an error.
	ReleaseHold(ctx context.Context, ref HoldRef) error
	Hold(ctx context.Context, ref HoldRef) (Hold, error)
	// CancelReservation gives a reservation's rooms back, for its owner
	// only; cancelling twice is not an error.
	CancelReservation(ctx context.Context, ref ReservationRef) error
	Hotel(ctx context.Context, eventID, hotelID int64) (HotelAvailability, error)
	// Event lists an event's hotels; an unknown event is ErrNotFound.
	Event(ctx context.Context, eventID int64) ([]HotelAvailability, error)
	Ping(ctx context.Context) error
	// Authenticate finds the live API client whose key hashes to keyHash
	// (HashAPIKey); ErrUnauthenticated when there is none.
	Authenticate(ctx context.Context, keyHash []byte) (APIClient, error)
}
