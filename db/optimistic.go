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
	Attempts: 4,
	// The server that won a swap books its next one of the hotel from
	// the version that swap returned, in one round trip, while the loser
	// backs off.
	RemembersRows: true,
	Book:          bookOptimistic,
	BookKeyed:     bookOptimisticKeyed,
}

// bookOptimistic swaps over the hotel's row version the server's last
// swap left (rowVersions) or, without one that fits, over the version it
// reads without locking. Losing the swap is ErrConflict, which the server
// reruns (Strategy.Attempts), reading first since the loss forgot the
// version, and then the client retries. A remembered version's loss waits
// out the same backoff as a read's: the winner is most likely still
// booking the hotel, and the pause lets it (docs/performance.md). See
// queries/optimistic.sql.
func bookOptimistic(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error) {
	if seen := st.versions.remembered(req); seen != nil {
		return swapOver(ctx, st, req, seen)
	}
	rooms, err := readFitting(ctx, st, req)
	if err != nil {
		return evento.Booking{}, err
	}
	return swapOver(ctx, st, req, &rowVersion{row: rooms})
}

// swapOver books req if the hotel's row is still the version seen, and
// remembers the version its swap leaves.
func swapOver(ctx context.Context, st Statements, req evento.BookRequest, seen *rowVersion) (evento.Booking, error) {
	row, err := st.Q.OptimisticBook(ctx, st.Write, dbsqlc.OptimisticBookParams{
		EventHotelRoomsID: seen.row.ID,
		SeenUpdatedAt:     seen.row.UpdatedAt,
		Name:              req.Name,
		Rooms:             req.Rooms,
		ClientID:          clientParam(req.Client),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		st.versions.forget(req, seen)
		return evento.Booking{}, evento.ErrConflict
	}
	if err != nil {
		return evento.Booking{}, fmt.Errorf("compare-and-swap: %w", err)
	}
	st.versions.remember(req, row)
	return newBooking(row.ReservationID, req), nil
}

// bookOptimisticKeyed is bookOptimistic for a request with an idempotency
// key: the same version, remembered or read outside any transaction, then
// one autocommit statement that claims the key and swaps, the key on the
// reservation (queries/optimistic.sql, OptimisticBookKeyed), as
// bookAtomicKeyed does. done is false when it committed nothing: the rooms
// did not fit or the hotel is unknown (the general path answers the
// refusal, after freeing any overdue holds), the key was busy or used
// before, or the swap lost; the request then takes the general path, which
// reads and swaps again.
func bookOptimisticKeyed(ctx context.Context, st Statements, req evento.BookRequest, key evento.IdempotencyKey) (booking evento.Booking, done bool, err error) {
	if seen := st.versions.remembered(req); seen != nil {
		id, err := swapKeyedOver(ctx, st, req, key, seen)
		if !errors.Is(err, pgx.ErrNoRows) {
			// Booked, undone whole by a taken key or a deadlock, or an
			// error: not a stale version, and a read would not help.
			return keyedOutcome(id, err, req)
		}
	}
	rooms, err := readFitting(ctx, st, req)
	if evento.IsRefusal(err) {
		return evento.Booking{}, false, nil
	}
	if err != nil {
		return evento.Booking{}, false, err
	}
	id, err := swapKeyedOver(ctx, st, req, key, &rowVersion{row: rooms})
	return keyedOutcome(id, err, req)
}

// swapKeyedOver is swapOver for a request with an idempotency key, on the
// fast path: the reservation's id, or the statement's error (pgx.ErrNoRows
// when it did nothing).
func swapKeyedOver(ctx context.Context, st Statements, req evento.BookRequest, key evento.IdempotencyKey, seen *rowVersion) (int64, error) {
	row, err := st.Q.OptimisticBookKeyed(ctx, st.Write, dbsqlc.OptimisticBookKeyedParams{
		EventHotelRoomsID: seen.row.ID,
		SeenUpdatedAt:     seen.row.UpdatedAt,
		Name:              req.Name,
		Rooms:             req.Rooms,
		ClientID:          clientParam(req.Client),
		Key:               key.Key,
		Fingerprint:       key.Fingerprint,
		TtlSeconds:        keepSeconds(key),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		st.versions.forget(req, seen)
	}
	if err != nil {
		return 0, err
	}
	st.versions.remember(req, dbsqlc.OptimisticBookRow(row))
	return row.ReservationID, nil
}
