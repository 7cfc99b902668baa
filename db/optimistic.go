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
	Price:      "every lost race costs a read and a swap again, rerun in the server after a backoff, and past its last rerun a conflict for the client to retry: under contention it falls far behind",
	Safe:       true,
	// A lost swap is rerun in the server (write's backoff) before the
	// client hears of it. While a loser backs off, its admission slot
	// keeps its server's other bookings of the hotel out, so the winner's
	// server swaps unopposed: on one hot hotel, 64 clients, 2 servers,
	// 78 % of swaps land against 53 % with every loss answered at once,
	// and a booking costs 30 % less CPU (docs/performance.md).
	Attempts:  4,
	Book:      bookOptimistic,
	BookKeyed: bookOptimisticKeyed,
}

// bookOptimistic reads without locking and writes only over the row version
// it read; losing that race is ErrConflict, which the server reruns
// (Strategy.Attempts) and then the client retries. See
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
