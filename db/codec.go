package db

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// The one codec of the outcomes an idempotency key keeps: a booking as the
// id of its reservation (the reservation that holds the key, or, in rows
// written before bookings kept their keys on their reservations,
// idempotency_keys.reservation_id), a hold or a confirmation as the JSON
// encodeOutcome writes (idempotency_keys.outcome). No SQL builds either.

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

// Only what was done is stored (evento.Outcome.Kept): a value. Refusals
// were stored until keys kept none; rows stored before (a shortfall by its
// facts, any other refusal by its API code, evento.Error.Code) are still
// read until they expire, since rows outlive the server that wrote them.

func encodeOutcome[T any](o evento.Outcome[T]) ([]byte, error) {
	if o.Refusal != nil {
		return nil, fmt.Errorf("encode outcome: a refusal is not kept: %w", o.Refusal)
	}
	encoded, err := json.Marshal(storedOutcome[T]{Value: &o.Value})
	if err != nil {
		return nil, fmt.Errorf("encode outcome: %w", err)
	}
	return encoded, nil
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
		if known := evento.ErrorWithCode(r.Code); known != nil && known.Kind == evento.Refusal {
			return evento.Refused[T](known), nil
		}
		return evento.Outcome[T]{}, fmt.Errorf("decode stored outcome: unknown refusal %q", r.Code)
	}
}
