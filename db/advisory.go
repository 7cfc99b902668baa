package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// bookAdvisory serialises the bookings of one hotel on an advisory lock
// named after it, then reads, decides and writes. See queries/advisory.sql.
func bookAdvisory(ctx context.Context, q *Queries, req BookRequest) (Booking, error) {
	if _, err := q.LockHotelKey(ctx, LockHotelKeyParams{EventID: req.EventID, HotelID: req.HotelID}); errors.Is(err, pgx.ErrNoRows) {
		return Booking{}, hotelNotFound(req.EventID, req.HotelID)
	} else if err != nil {
		return Booking{}, fmt.Errorf("lock hotel key: %w", err)
	}
	rooms, err := readFitting(ctx, q, req)
	if err != nil {
		return Booking{}, err
	}
	id, err := q.PessimisticBook(ctx, PessimisticBookParams{EventHotelRoomsID: rooms.ID, Name: req.Name, Rooms: req.Rooms})
	if err != nil {
		return Booking{}, fmt.Errorf("book under key lock: %w", err)
	}
	return newBooking(id, req), nil
}
