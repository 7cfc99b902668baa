package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// CancelReservation gives a reservation's rooms back to its hotel, and so
// its client's allowance at the event (limits.sql counts live rows), for
// its owner only (queries/cancel.sql). Cancelling a cancelled reservation
// changes nothing and succeeds: the rooms are back either way.
func (s *Store) CancelReservation(ctx context.Context, ref evento.ReservationRef) error {
	outcome, err := writeOne(ctx, &s.engine, readCommittedPolicy, nil, func(ctx context.Context, tx dbsqlc.DBTX, _ []int) ([]evento.Outcome[struct{}], error) {
		outcome, err := outcomeOf(struct{}{}, cancelReservation(ctx, s.q, tx, ref))
		return []evento.Outcome[struct{}]{outcome}, err
	})
	if err == nil {
		err = outcome.Refusal
	}
	if err != nil {
		return fmt.Errorf("cancel a reservation: %w", err)
	}
	return nil
}

func cancelReservation(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, ref evento.ReservationRef) error {
	_, err := q.CancelReservation(ctx, tx, dbsqlc.CancelReservationParams{
		ReservationID: ref.ReservationID, ClientID: clientParam(ref.Client), EventID: ref.EventID, HotelID: ref.HotelID,
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	// Not live: cancelled before (success, nothing to do), or not there,
	// or not the asker's (the same 404).
	_, err = q.GetReservation(ctx, tx, dbsqlc.GetReservationParams{
		ReservationID: ref.ReservationID, ClientID: clientParam(ref.Client), EventID: ref.EventID, HotelID: ref.HotelID,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return evento.ReservationNotFound(ref.EventID, ref.HotelID, ref.ReservationID)
	}
	return err
}
