package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

var naive = Strategy{
	Name:       "naive",
	ChooseWhen: "never: it is the lost update, kept so that the lab can show it being caught",
	Price:      "overbooks as soon as two requests for a hotel overlap",
	Safe:       false,
	Tx:         readCommitted,
	Book:       bookNaive,
}

// serializable is naive's very statements in a SERIALIZABLE transaction:
// the isolation level is the only difference. See queries/serializable.sql.
var serializable = Strategy{
	Name:       "serializable",
	ChooseWhen: "the rule spans rows or tables you cannot name in advance, and PostgreSQL should find every conflict for you",
	Price:      "conflicting transactions abort (40001) and are rerun in the server: under contention among the slowest safe strategies, with the longest tail",
	Safe:       true,
	Tx:         &pgx.TxOptions{IsoLevel: pgx.Serializable},
	Attempts:   10,
	Book:       bookNaive,
}

// bookNaive is the lesson, not a pattern: it decides from a plain read and
// writes an absolute counter, so concurrent clients overwrite each other's
// bookings (a lost update). See queries/naive.sql.
func bookNaive(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error) {
	rooms, err := readFitting(ctx, st, req)
	if err != nil {
		return evento.Booking{}, err
	}
	// Nothing follows the write: the engine may send COMMIT with it (naive
	// and serializable both run in a transaction), and the transaction is
	// shorter by a round trip.
	id, err := st.Q.NaiveBook(ctx, st.last(), dbsqlc.NaiveBookParams{
		EventHotelRoomsID: rooms.ID,
		NewReserved:       rooms.Reserved + req.Rooms,
		Name:              req.Name,
		Rooms:             req.Rooms,
		ClientID:          clientParam(req.Client),
	})
	if err != nil {
		return evento.Booking{}, fmt.Errorf("write counter: %w", err)
	}
	return newBooking(id, req), nil
}
