package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// bookPessimistic holds the hotel's row lock from the read to the commit, so
// its decision cannot go stale. See queries/pessimistic.sql.
func bookPessimistic(ctx context.Context, q *Queries, req BookRequest) (Booking, error) {
	rooms, err := q.LockHotelRooms(ctx, LockHotelRoomsParams{EventID: req.EventID, HotelID: req.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Booking{}, hotelNotFound(req.EventID, req.HotelID)
	}
	if err != nil {
		return Booking{}, fmt.Errorf("lock hotel rooms: %w", err)
	}
	if err := checkFits(rooms.Assigned-rooms.Reserved-rooms.Locked, req.Rooms); err != nil {
		return Booking{}, err
	}
	id, err := q.PessimisticBook(ctx, PessimisticBookParams{
		EventHotelRoomsID: rooms.ID,
		Name:              req.Name,
		Rooms:             req.Rooms,
	})
	if err != nil {
		return Booking{}, fmt.Errorf("book on locked row: %w", err)
	}
	return newBooking(id, req), nil
}
