package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// bookAtomic checks and books in one statement. See queries/atomic.sql.
func bookAtomic(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error) {
	id, err := st.Q.AtomicBook(ctx, st.Write, dbsqlc.AtomicBookParams{
		EventID: req.EventID,
		HotelID: req.HotelID,
		Name:    req.Name,
		Rooms:   req.Rooms,
	})
	if err == nil {
		return newBooking(id, req), nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return evento.Booking{}, fmt.Errorf("conditional update: %w", err)
	}
	return evento.Booking{}, explainRefusal(ctx, st, req)
}
