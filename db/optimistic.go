package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

var optimistic = Strategy{
	Name:       "optimistic",
	ChooseWhen: "contention is low, and no lock may be held while a person decides (read now, write minutes later)",
	Price:      "every lost race comes back to the client as a conflict to retry: under contention it falls far behind",
	Safe:       true,
	Book:       bookOptimistic,
}

// bookOptimistic reads without locking and writes only over the row version
// it read; losing that race is ErrConflict, which the client retries. See
// queries/optimistic.sql.
func bookOptimistic(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error) {
	rooms, err := readFitting(ctx, st, req)
	if err != nil {
		return evento.Booking{}, err
	}
	id, err := st.Q.OptimisticBook(ctx, st.Write, dbsqlc.OptimisticBookParams{
		EventHotelRoomsID: rooms.ID,
		SeenUpdatedAt:     rooms.UpdatedAt,
		Name:              req.Name,
		Rooms:             req.Rooms,
		ClientID:          clientParam(req.Client),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return evento.Booking{}, evento.ErrConflict
	}
	if err != nil {
		return evento.Booking{}, fmt.Errorf("compare-and-swap: %w", err)
	}
	return newBooking(id, req), nil
}
