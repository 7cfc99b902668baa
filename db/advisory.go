package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

var advisory = Strategy{
	Name:       "advisory",
	ChooseWhen: "writes must queue on a name that is not one row (an event, a customer) across several tables",
	Price:      "every code path must take the same lock: one that forgets it is not protected",
	Safe:       true,
	Tx:         readCommitted,
	Book:       bookAdvisory,
}

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
	if _, err := readFitting(ctx, st, req); err != nil {
		return evento.Booking{}, err
	}
	// Conditional, although the key is held: holds and confirms do not take
	// the key, and one may have taken the rooms since the read.
	id, err := st.Q.AtomicBook(ctx, st.Write, dbsqlc.AtomicBookParams{EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms, ClientID: clientParam(req.Client)})
	if errors.Is(err, pgx.ErrNoRows) {
		return evento.Booking{}, explainRefusal(ctx, st, req)
	}
	if err != nil {
		return evento.Booking{}, fmt.Errorf("book under key lock: %w", err)
	}
	return newBooking(id, req), nil
}
