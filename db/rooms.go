package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// readFitting reads a hotel's counters with GetHotelRooms and checks that
// req's rooms fit: the "read, then decide in Go" step of naive, optimistic
// and advisory. It returns a not-found or *ShortfallError when they do not.
func readFitting(ctx context.Context, st Statements, req evento.BookRequest) (dbsqlc.GetHotelRoomsRow, error) {
	rooms, err := st.Q.GetHotelRooms(ctx, st.Read, dbsqlc.GetHotelRoomsParams{EventID: req.EventID, HotelID: req.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return dbsqlc.GetHotelRoomsRow{}, evento.HotelNotFound(req.EventID, req.HotelID)
	}
	if err != nil {
		return dbsqlc.GetHotelRoomsRow{}, fmt.Errorf("read hotel rooms: %w", err)
	}
	return rooms, evento.CheckFits(rooms.Assigned-rooms.Reserved-rooms.Locked, req.Rooms)
}

// explainRefusal tells why a conditional write booked nothing. The decision
// is already made; this read only names it. Rooms can come back between the
// two statements (a hold released or expired), and then the honest answer
// is a retryable conflict rather than a shortfall that is no longer true.
func explainRefusal(ctx context.Context, st Statements, req evento.BookRequest) error {
	if _, err := readFitting(ctx, st, req); err != nil {
		return err
	}
	return evento.ErrConflict
}
