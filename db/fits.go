package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// readFitting reads a hotel's counters with GetHotelRooms and checks that
// req's rooms fit: the "read, then decide in Go" step of naive, optimistic
// and advisory. It returns a not-found or *ShortfallError when they do not.
func readFitting(ctx context.Context, q *Queries, req BookRequest) (GetHotelRoomsRow, error) {
	rooms, err := q.GetHotelRooms(ctx, GetHotelRoomsParams{EventID: req.EventID, HotelID: req.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return GetHotelRoomsRow{}, hotelNotFound(req.EventID, req.HotelID)
	}
	if err != nil {
		return GetHotelRoomsRow{}, fmt.Errorf("read hotel rooms: %w", err)
	}
	return rooms, checkFits(rooms.Assigned-rooms.Reserved-rooms.Locked, req.Rooms)
}
