package db

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// The one codec of the outcomes an idempotency key keeps: a booking as the
// id of its reservation (idempotency_keys.reservation_id), every other
// outcome as the JSON encodeOutcome writes (idempotency_keys.outcome). No
// SQL builds either.

// replay is the outcome a key stored: a booking, rebuilt from the
// reservation the key names, or the outcome encodeOutcome wrote.
func replay[T any](stored dbsqlc.GetIdempotencyOutcomesRow) (evento.Outcome[T], error) {
	if !stored.ReservationID.Valid {
		return decodeOutcome[T](stored.Outcome)
	}
	booking, ok := any(evento.Booking{
		ReservationID: stored.ReservationID.Int64,
		EventID:       stored.ReservationEventID.Int64,
		HotelID:       stored.ReservationHotelID.Int64,
		Name:          stored.ReservationName.String,
		Rooms:         stored.ReservationRooms.Int32,
	}).(T)
	if !ok || !stored.ReservationName.Valid {
		return evento.Outcome[T]{}, fmt.Errorf("replay idempotency key #%s: reservation %d is not this request's outcome",
			evento.ShortHash(stored.Key), stored.ReservationID.Int64)
	}
	return evento.Done(booking), nil
}

// encodeKept is how a key keeps outcome, which replay reads back: a booking as
// its reservation's id (and no JSON), anything else as encodeOutcome
// writes it (and reservation id 0, stored as NULL).
func encodeKept[T any](outcome evento.Outcome[T]) (encoded []byte, reservationID int64, err error) {
	if booking, ok := any(outcome.Value).(evento.Booking); ok && outcome.Refusal == nil {
		return nil, booking.ReservationID, nil
	}
	encoded, err = encodeOutcome(outcome)
	return encoded, 0, err
}

// storedOutcome is an evento.Outcome as an idempotency key keeps it
// (idempotency_keys.outcome): the value, or the refusal by its code and
// the facts its message needs.
type storedOutcome[T any] struct {
	Value   *T             `json:"value,omitempty"`
	Refusal *storedRefusal `json:"refusal,omitempty"`
}

type storedRefusal struct {
	Code      string `json:"code"`
	What      string `json:"what,omitempty"`
	Available int32  `json:"available,omitempty"`
	Requested int32  `json:"requested,omitempty"`
	// Held and HeldUntil make a shortfall a rooms_held refusal.
	Held      int32      `json:"held,omitempty"`
	HeldUntil *time.Time `json:"held_until,omitempty"`
	// Bucketed makes a shortfall an inventory_sharded refusal.
	Bucketed int32 `json:"bucketed,omitempty"`
}

// Shortfalls (rooms_held among them) and the hold refusals are stored
// (evento.Outcome.Kept); not_found is no longer stored, but still read from
// rows stored before, until they expire. A kept refusal without facts of
// its own (a hold refusal) is stored by its API code, evento.Error.Code:
// both are contracts, so rows stored before stay readable.

func encodeOutcome[T any](o evento.Outcome[T]) ([]byte, error) {
	stored := storedOutcome[T]{}
	if o.Refusal == nil {
		stored.Value = &o.Value
	} else {
		refusal, err := encodeRefusal(o.Refusal)
		if err != nil {
			return nil, err
		}
		stored.Refusal = &refusal
	}
	encoded, err := json.Marshal(stored)
	if err != nil {
		return nil, fmt.Errorf("encode outcome: %w", err)
	}
	return encoded, nil
}

func encodeRefusal(err error) (storedRefusal, error) {
	var shortfall *evento.ShortfallError
	var notFound *evento.NotFoundError
	switch {
	case errors.As(err, &shortfall):
		stored := storedRefusal{Code: "shortfall", Available: shortfall.Available, Requested: shortfall.Requested,
			Held: shortfall.Held, Bucketed: shortfall.Bucketed}
		if shortfall.Held > 0 {
			stored.HeldUntil = &shortfall.HeldUntil
		}
		return stored, nil
	case errors.As(err, &notFound):
		return storedRefusal{Code: evento.ErrNotFound.Code, What: notFound.What}, nil
	}
	for _, known := range evento.Errors() {
		if known.Kind == evento.KeptRefusal && errors.Is(err, known) {
			return storedRefusal{Code: known.Code}, nil
		}
	}
	return storedRefusal{}, fmt.Errorf("encode outcome: %w is not a final refusal", err)
}

func decodeOutcome[T any](encoded []byte) (evento.Outcome[T], error) {
	var stored storedOutcome[T]
	if err := json.Unmarshal(encoded, &stored); err != nil {
		return evento.Outcome[T]{}, fmt.Errorf("decode stored outcome: %w", err)
	}
	switch r := stored.Refusal; {
	case r == nil && stored.Value != nil:
		return evento.Done(*stored.Value), nil
	case r == nil:
		return evento.Outcome[T]{}, fmt.Errorf("decode stored outcome %s: neither value nor refusal", encoded)
	case r.Code == "shortfall":
		shortfall := &evento.ShortfallError{Available: r.Available, Requested: r.Requested, Held: r.Held, Bucketed: r.Bucketed}
		if r.HeldUntil != nil {
			shortfall.HeldUntil = *r.HeldUntil
		}
		return evento.Refused[T](shortfall), nil
	case r.Code == evento.ErrNotFound.Code:
		return evento.Refused[T](&evento.NotFoundError{What: r.What}), nil
	default:
		if known := evento.ErrorWithCode(r.Code); known != nil && known.Kind == evento.KeptRefusal {
			return evento.Refused[T](known), nil
		}
		return evento.Outcome[T]{}, fmt.Errorf("decode stored outcome: unknown refusal %q", r.Code)
	}
}
