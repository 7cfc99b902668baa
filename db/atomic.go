package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

var atomic = Strategy{
	Name:       "atomic",
	ChooseWhen: "the rule fits one SQL condition (rooms left >= rooms asked): the default",
	Price:      "the check must fit the UPDATE's WHERE; no code of yours runs between the read and the write",
	Safe:       true,
	Book:       bookAtomic,
	BookKeyed:  bookAtomicKeyed,
}

// bookAtomic checks and books in one statement. See queries/atomic.sql.
func bookAtomic(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error) {
	id, err := st.Q.AtomicBook(ctx, st.Write, dbsqlc.AtomicBookParams{
		EventID:  req.EventID,
		HotelID:  req.HotelID,
		Name:     req.Name,
		Rooms:    req.Rooms,
		ClientID: clientParam(req.Client),
	})
	if err == nil {
		return newBooking(id, req), nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return evento.Booking{}, fmt.Errorf("conditional update: %w", err)
	}
	return evento.Booking{}, explainRefusal(ctx, st, req)
}

// bookAtomicKeyed is bookAtomic for a request with an idempotency key: one
// autocommit statement claims the key and books, the key on the
// reservation (queries/atomic.sql, AtomicBookKeyed). done is false when
// it committed nothing: the key was busy or used before, or the rooms did
// not fit, or the hotel is unknown; the request then takes the general
// path (see engine.go), which tells those cases apart.
func bookAtomicKeyed(ctx context.Context, st Statements, req evento.BookRequest, key evento.IdempotencyKey) (booking evento.Booking, done bool, err error) {
	id, err := st.Q.AtomicBookKeyed(ctx, st.Write, dbsqlc.AtomicBookKeyedParams{
		EventID:     req.EventID,
		HotelID:     req.HotelID,
		Name:        req.Name,
		Rooms:       req.Rooms,
		ClientID:    clientParam(req.Client),
		Key:         key.Key,
		Fingerprint: key.Fingerprint,
		TtlSeconds:  keepSeconds(key),
	})
	return keyedOutcome(id, err, req)
}

// keyedOutcome reads the answer of a fast-path statement (a BookKeyed):
// the booking, or done false when the statement committed nothing.
func keyedOutcome(id int64, err error, req evento.BookRequest) (booking evento.Booking, done bool, _ error) {
	switch {
	case err == nil:
		return newBooking(id, req), true, nil
	case errors.Is(err, pgx.ErrNoRows):
		return evento.Booking{}, false, nil
	case committedNothing(err):
		return evento.Booking{}, false, nil
	default:
		return evento.Booking{}, false, fmt.Errorf("book and store under the idempotency key at once: %w", err)
	}
}
