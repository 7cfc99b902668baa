package db

import (
	"context"
	"fmt"
)

// bookNaive is the lesson, not a pattern: it decides from a plain read and
// writes an absolute counter, so concurrent clients overwrite each other's
// bookings (a lost update). See queries/naive.sql.
func bookNaive(ctx context.Context, q *Queries, req BookRequest) (Booking, error) {
	rooms, err := readFitting(ctx, q, req)
	if err != nil {
		return Booking{}, err
	}
	id, err := q.NaiveBook(ctx, NaiveBookParams{
		EventHotelRoomsID: rooms.ID,
		NewReserved:       rooms.Reserved + req.Rooms,
		Name:              req.Name,
		Rooms:             req.Rooms,
	})
	if err != nil {
		return Booking{}, fmt.Errorf("write counter: %w", err)
	}
	return newBooking(id, req), nil
}
