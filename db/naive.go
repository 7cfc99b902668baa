package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// bookNaive is the lesson, not a pattern: it decides from a plain read and
// writes an absolute counter, so concurrent clients overwrite each other's
// bookings (a lost update). See queries/naive.sql.
func bookNaive(ctx context.Context, q *Queries, req BookRequest) (Booking, error) {
	rooms, err := q.GetHotelRooms(ctx, GetHotelRoomsParams{EventID: req.EventID, HotelID: req.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Booking{}, hotelNotFound(req.EventID, req.HotelID)
	}
	if err != nil {
		return Booking{}, fmt.Errorf("read hotel rooms: %w", err)
	}
	if err := checkFits(rooms.Assigned-rooms.Reserved-rooms.Locked, req.Rooms); err != nil {
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
