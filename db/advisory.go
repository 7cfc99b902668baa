package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// bookAdvisory serialises the bookings of one hotel on an advisory lock
// named after it, then reads, decides and writes. See queries/advisory.sql.
func bookAdvisory(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error) {
	_, err := st.Q.LockHotelKey(ctx, st.Read, dbsqlc.LockHotelKeyParams{EventID: req.EventID, HotelID: req.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return evento.Booking{}, evento.HotelNotFound(req.EventID, req.HotelID)
	}
	if err != nil {
		return evento.Booking{}, fmt.Errorf("lock hotel key: %w", err)
	}
	rooms, err := readFitting(ctx, st, req)
	if err != nil {
		return evento.Booking{}, err
	}
	id, err := st.Q.PessimisticBook(ctx, st.Write, dbsqlc.PessimisticBookParams{EventHotelRoomsID: rooms.ID, Name: req.Name, Rooms: req.Rooms})
	if err != nil {
		return evento.Booking{}, fmt.Errorf("book under key lock: %w", err)
	}
	return newBooking(id, req), nil
}
