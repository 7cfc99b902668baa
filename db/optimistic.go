package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// bookOptimistic reads without locking and writes only over the row version
// it read; losing that race is ErrConflict, which the client retries. See
// queries/optimistic.sql.
func bookOptimistic(ctx context.Context, q *Queries, req BookRequest) (Booking, error) {
	rooms, err := readFitting(ctx, q, req)
	if err != nil {
		return Booking{}, err
	}
	id, err := q.OptimisticBook(ctx, OptimisticBookParams{
		EventHotelRoomsID: rooms.ID,
		SeenUpdatedAt:     rooms.UpdatedAt,
		Name:              req.Name,
		Rooms:             req.Rooms,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Booking{}, ErrConflict
	}
	if err != nil {
		return Booking{}, fmt.Errorf("compare-and-swap: %w", err)
	}
	return newBooking(id, req), nil
}
