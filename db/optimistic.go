package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

var optimistic = Strategy{
	Name:       "optimistic",
	ChooseWhen: "contention is low, and no lock may be held while a person decides (read now, write minutes later)",
	Price:      "every lost race comes back to the client as a conflict to retry: under contention it falls far behind",
	Safe:       true,
	Book:       bookOptimistic,
	BookKeyed:  bookOptimisticKeyed,
}

// bookOptimistic reads without locking and writes only over the row version
// it read; losing that race is ErrConflict, which the client retries. See
// queries/optimistic.sql.
func bookOptimistic(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error) {
	rooms, err := readFitting(ctx, st, req)
	if err != nil {
		return evento.Booking{}, err
	}
	id, err := st.Q.OptimisticBook(ctx, st.Write, dbsqlc.OptimisticBookParams{
		EventHotelRoomsID: rooms.ID,
		SeenUpdatedAt:     rooms.UpdatedAt,
		Name:              req.Name,
		Rooms:             req.Rooms,
		ClientID:          clientParam(req.Client),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return evento.Booking{}, evento.ErrConflict
	}
	if err != nil {
		return evento.Booking{}, fmt.Errorf("compare-and-swap: %w", err)
	}
	return newBooking(id, req), nil
}

// bookOptimisticKeyed is bookOptimistic for a request with an idempotency
// key: the same read, outside any transaction, then one autocommit
// statement that claims the key and swaps, the key on the reservation
// (queries/optimistic.sql, OptimisticBookKeyed), as bookAtomicKeyed does.
// done is false when it committed nothing: the rooms did not fit or the
// hotel is unknown (the general path answers the refusal, after freeing
// any overdue holds), the key was busy or used before, or the swap lost; the
// request then takes the general path, which reads and swaps again.
func bookOptimisticKeyed(ctx context.Context, st Statements, req evento.BookRequest, key evento.IdempotencyKey) (booking evento.Booking, done bool, err error) {
	rooms, err := readFitting(ctx, st, req)
	if evento.IsRefusal(err) {
		return evento.Booking{}, false, nil
	}
	if err != nil {
		return evento.Booking{}, false, err
	}
	id, err := st.Q.OptimisticBookKeyed(ctx, st.Write, dbsqlc.OptimisticBookKeyedParams{
		EventHotelRoomsID: rooms.ID,
		SeenUpdatedAt:     rooms.UpdatedAt,
		Name:              req.Name,
		Rooms:             req.Rooms,
		ClientID:          clientParam(req.Client),
		Key:               key.Key,
		Fingerprint:       key.Fingerprint,
		TtlSeconds:        keepSeconds(key),
	})
	return keyedOutcome(id, err, req)
}
