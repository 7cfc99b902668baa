package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

var pessimistic = Strategy{
	Name:       "pessimistic",
	ChooseWhen: "the rule needs a read, then code in your service, then the write (several rows, per-customer rules)",
	Price:      "the row stays locked over the transaction's round trips, so its rate falls as the database gets farther away",
	Safe:       true,
	Tx:         readCommitted,
	Book:       bookPessimistic,
}

// bookPessimistic holds the hotel's row lock from the read to the commit, so
// its decision cannot go stale. See queries/pessimistic.sql.
func bookPessimistic(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error) {
	rooms, err := st.Q.LockHotelRooms(ctx, st.Read, dbsqlc.LockHotelRoomsParams{EventID: req.EventID, HotelID: req.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return evento.Booking{}, evento.HotelNotFound(req.EventID, req.HotelID)
	}
	if err != nil {
		return evento.Booking{}, fmt.Errorf("lock hotel rooms: %w", err)
	}
	if err := evento.CheckFits(rooms.Assigned-rooms.Reserved-rooms.Locked, req.Rooms); err != nil {
		return evento.Booking{}, err
	}
	// Nothing follows the write: the engine may send COMMIT with it, and
	// the row's lock is released as soon as it is done.
	id, err := st.Q.PessimisticBook(ctx, st.last(), dbsqlc.PessimisticBookParams{
		EventHotelRoomsID: rooms.ID,
		Name:              req.Name,
		Rooms:             req.Rooms,
		ClientID:          clientParam(req.Client),
	})
	if err != nil {
		return evento.Booking{}, fmt.Errorf("book on locked row: %w", err)
	}
	return newBooking(id, req), nil
}
