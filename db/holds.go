package db

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// PlaceHold takes rooms out of the pool for req.TTL, at most once per key,
// unless that would take the client over req.MaxHeldRooms, or over its
// limit at the event (req.MaxRoomsPerEvent: a hold takes from the same
// allowance as a booking).
func (s *Store) PlaceHold(ctx context.Context, req evento.HoldRequest, key *evento.IdempotencyKey) (evento.Outcome[evento.Hold], error) {
	if req.MaxHeldRooms > 0 {
		// The cap's lock would be waited for on a pooled connection.
		leave, err := s.holders.enter(ctx, req.Client)
		if err != nil {
			return evento.Outcome[evento.Hold]{}, fmt.Errorf("hold %d rooms: wait for this client's other holds: %w", req.Rooms, err)
		}
		defer leave()
	}
	// A hold takes rooms from the hotel's row, as a booking does: after the
	// client's gate, so that a client's queued holds do not take turns.
	leave, err := s.admit(ctx, req.BookRequest)
	if err != nil {
		return evento.Outcome[evento.Hold]{}, fmt.Errorf("hold %d rooms: %w", req.Rooms, err)
	}
	defer leave()
	policy := readCommittedPolicy
	if req.MaxHeldRooms > 0 || req.Cooldown > 0 || limitApplies(req.BookRequest) {
		// The cap's, the cooldown's and the client limit's checks and the
		// hold's insert are several statements under locks: they need a
		// transaction of their own.
		policy = holdCapPolicy
	}
	outcome, err := writeOne(ctx, &s.engine, policy, key, func(ctx context.Context, tx dbsqlc.DBTX, _ []int) ([]evento.Outcome[evento.Hold], error) {
		if err := checkHoldLimits(ctx, s.q, tx, req); err != nil {
			return nil, err
		}
		// After the cap's lock, before the hotel's row: the order every
		// writer takes these locks in (limits.sql).
		refusals, err := checkClientLimits(ctx, s.q, tx, []evento.BookRequest{req.BookRequest})
		if err != nil {
			return nil, err
		}
		if refusals != nil && refusals[0] != nil {
			return []evento.Outcome[evento.Hold]{evento.Refused[evento.Hold](refusals[0])}, nil
		}
		return freeingOverdueHolds(ctx, s.q, tx, req.BookRequest, 1, false, func([]int) ([]evento.Outcome[evento.Hold], error) {
			outcome, err := outcomeOf(placeHold(ctx, s.q, tx, req))
			return []evento.Outcome[evento.Hold]{outcome}, err
		})
	})
	if err != nil {
		return outcome, fmt.Errorf("hold %d rooms: %w", req.Rooms, err)
	}
	return outcome, nil
}

// ConfirmHold turns a live hold into a reservation, at most once per key.
// Confirming a confirmed hold answers with its reservation (Earlier).
func (s *Store) ConfirmHold(ctx context.Context, ref evento.HoldRef, key *evento.IdempotencyKey) (evento.Outcome[evento.Confirmation], error) {
	outcome, err := writeOne(ctx, &s.engine, readCommittedPolicy, key, func(ctx context.Context, tx dbsqlc.DBTX, _ []int) ([]evento.Outcome[evento.Confirmation], error) {
		outcome, err := outcomeOf(confirmHeld(ctx, s.q, tx, ref))
		return []evento.Outcome[evento.Confirmation]{outcome}, err
	})
	if err != nil {
		return outcome, fmt.Errorf("confirm a hold: %w", err)
	}
	return outcome, nil
}

// ReleaseHold gives a hold's rooms back to the pool. Releasing a hold that
// is already released or expired succeeds (the rooms are back either way);
// a confirmed hold cannot be released.
func (s *Store) ReleaseHold(ctx context.Context, ref evento.HoldRef) error {
	outcome, err := writeOne(ctx, &s.engine, readCommittedPolicy, nil, func(ctx context.Context, tx dbsqlc.DBTX, _ []int) ([]evento.Outcome[struct{}], error) {
		outcome, err := outcomeOf(struct{}{}, releaseHeld(ctx, s.q, tx, ref))
		return []evento.Outcome[struct{}]{outcome}, err
	})
	if err == nil {
		err = outcome.Refusal
	}
	if err != nil {
		return fmt.Errorf("release a hold: %w", err)
	}
	return nil
}

// Hold reads a hold.
func (s *Store) Hold(ctx context.Context, ref evento.HoldRef) (evento.Hold, error) {
	hold, err := readHold(ctx, s.q, s.pool, ref)
	if err != nil {
		return evento.Hold{}, fmt.Errorf("read a hold: %w", classify(err))
	}
	return hold, nil
}

// holdCapPolicy runs a capped hold in a READ COMMITTED transaction, so
// that the client's lock lasts until the hold is committed.
var holdCapPolicy = txPolicy{tx: readCommitted, attempts: 1, label: "hold"}

// checkHoldLimits refuses a hold during its client's cooldown at the hotel,
// or one that would take the client over its cap. The cap is checked under
// the client's lock (queries/holds.sql, LockClientHolds): the lock is held
// to COMMIT, so no other hold of the client, on any server, can slip in
// between this check and the insert.
func checkHoldLimits(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, req evento.HoldRequest) error {
	client := clientParam(req.Client)
	if req.Cooldown > 0 {
		cooldown, err := q.HoldCooldownUntil(ctx, tx, dbsqlc.HoldCooldownUntilParams{
			CooldownSeconds: req.Cooldown.Seconds(), ClientID: client, EventID: req.EventID, HotelID: req.HotelID,
		})
		if err != nil {
			return fmt.Errorf("read the client's hold cooldown: %w", err)
		}
		if cooldown.Cooling {
			return &evento.HoldCooldownError{Cooldown: req.Cooldown, Until: cooldown.Until}
		}
	}
	if req.MaxHeldRooms <= 0 {
		return nil
	}
	if _, err := q.LockClientHolds(ctx, tx, client); err != nil {
		return fmt.Errorf("lock the client's holds: %w", err)
	}
	held, err := q.ClientHeldRooms(ctx, tx, client)
	if err != nil {
		return fmt.Errorf("count the client's held rooms: %w", err)
	}
	if held+req.Rooms > req.MaxHeldRooms {
		return &evento.HoldLimitError{Held: held, Requested: req.Rooms, Limit: req.MaxHeldRooms}
	}
	return nil
}

// clientParam is a hold's owner as the database stores it: NULL for the
// anonymous client.
func clientParam(c evento.ClientID) pgtype.Int8 {
	return pgtype.Int8{Int64: int64(c), Valid: c != evento.Anonymous}
}

// newHoldHandle draws a hold's handle: 128 bits from crypto/rand, in
// base64url, behind a prefix that says what it is.
func newHoldHandle() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("draw a hold handle: %w", err)
	}
	return "hold_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// placeHold locks rooms for a hold if they fit (queries/holds.sql).
func placeHold(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, req evento.HoldRequest) (evento.Hold, error) {
	handle, err := newHoldHandle()
	if err != nil {
		return evento.Hold{}, err
	}
	row, err := q.PlaceHold(ctx, tx, dbsqlc.PlaceHoldParams{
		EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms,
		TtlSeconds: int32(req.TTL / time.Second), ClientID: clientParam(req.Client), Handle: handle,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return evento.Hold{}, explainRefusal(ctx, statementsOn(tx, nil), req.BookRequest)
	}
	if err != nil {
		return evento.Hold{}, fmt.Errorf("place hold: %w", err)
	}
	return evento.Hold{
		Handle: row.Handle, EventID: req.EventID, HotelID: req.HotelID, Name: req.Name,
		Rooms: row.Rooms, State: row.State, ExpiresAt: row.ExpiresAt,
	}, nil
}

// confirmHeld books a live hold, or tells why it cannot.
func confirmHeld(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, ref evento.HoldRef) (evento.Confirmation, error) {
	confirmation := evento.Confirmation{HoldHandle: ref.Handle, EventID: ref.EventID, HotelID: ref.HotelID}
	row, err := q.ConfirmHold(ctx, tx, dbsqlc.ConfirmHoldParams{Handle: ref.Handle, ClientID: clientParam(ref.Client), EventID: ref.EventID, HotelID: ref.HotelID})
	if err == nil {
		confirmation.ReservationID, confirmation.Rooms = row.ID, row.Number
		return confirmation, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return evento.Confirmation{}, err
	}
	hold, err := readHold(ctx, q, tx, ref)
	if err != nil {
		return evento.Confirmation{}, err
	}
	switch hold.State {
	case evento.HoldConfirmed:
		confirmation.ReservationID, confirmation.Rooms, confirmation.Earlier = hold.ReservationID, hold.Rooms, true
		return confirmation, nil
	case evento.HoldReleased:
		return evento.Confirmation{}, evento.ErrHoldReleased
	case evento.HoldExpired:
		return evento.Confirmation{}, evento.ErrHoldExpired
	default:
		// Still held and not overdue after the confirm found it otherwise:
		// only a concurrent change explains that. Let the client retry.
		return evento.Confirmation{}, evento.ErrConflict
	}
}

func releaseHeld(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, ref evento.HoldRef) error {
	_, err := q.ReleaseHold(ctx, tx, dbsqlc.ReleaseHoldParams{Handle: ref.Handle, ClientID: clientParam(ref.Client), EventID: ref.EventID, HotelID: ref.HotelID})
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	hold, err := readHold(ctx, q, tx, ref)
	if err != nil {
		return err
	}
	if hold.State == evento.HoldConfirmed {
		return evento.ErrHoldConfirmed
	}
	return nil
}

func readHold(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, ref evento.HoldRef) (evento.Hold, error) {
	row, err := q.GetHold(ctx, tx, dbsqlc.GetHoldParams{Handle: ref.Handle, ClientID: clientParam(ref.Client), EventID: ref.EventID, HotelID: ref.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		// Not the handle itself: an error message is no place for a secret.
		return evento.Hold{}, evento.HoldNotFound(ref.EventID, ref.HotelID)
	}
	if err != nil {
		return evento.Hold{}, err
	}
	state := row.State
	if row.Overdue {
		state = evento.HoldExpired
	}
	return evento.Hold{
		Handle: row.Handle, EventID: ref.EventID, HotelID: ref.HotelID, Name: row.Name, Rooms: row.Rooms,
		State: state, ExpiresAt: row.ExpiresAt, ReservationID: row.ReservationID.Int64,
	}, nil
}
