package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// bookAtomic checks and books in one statement. See queries/atomic.sql.
func bookAtomic(ctx context.Context, q *Queries, req BookRequest) (Booking, error) {
	id, err := q.AtomicBook(ctx, AtomicBookParams{
		EventID: req.EventID,
		HotelID: req.HotelID,
		Name:    req.Name,
		Rooms:   req.Rooms,
	})
	if err == nil {
		return newBooking(id, req), nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Booking{}, fmt.Errorf("conditional update: %w", err)
	}
	return Booking{}, explainRefusal(ctx, q, req)
}

// explainRefusal tells why a conditional write booked nothing. The decision
// is already made; this read only names it. Rooms can come back between the
// two statements (a hold released or expired), and then the honest answer
// is a retryable conflict rather than a shortfall that is no longer true.
func explainRefusal(ctx context.Context, q *Queries, req BookRequest) error {
	if _, err := readFitting(ctx, q, req); err != nil {
		return err
	}
	return ErrConflict
}
