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
	Name:    "optimistic",
	Summary: "compare-and-swap on updated_at; a lost race is a retryable conflict",
	Safe:    true,
	Book:    bookOptimistic,
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
