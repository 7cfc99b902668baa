package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Booker makes bookings and holds. *Store makes each in transactions of its
// own; the Booker handed to an Idempotently callback makes them inside the
// idempotency key's transaction, so the booking and its stored response
// commit together.
type Booker interface {
	Reserve(ctx context.Context, strategy Strategy, req BookRequest) (Booking, error)
	PlaceHold(ctx context.Context, req HoldRequest) (Hold, error)
	ConfirmHold(ctx context.Context, ref HoldRef) (booking Booking, replayed bool, err error)
}

// PlaceHold takes rooms out of the pool for req.TTL.
func (s *Store) PlaceHold(ctx context.Context, req HoldRequest) (hold Hold, err error) {
	err = withConn(ctx, s.Pool, func(conn *pgxpool.Conn) error {
		hold, err = holdRooms(ctx, New(conn), req)
		return err
	})
	return hold, wrapWriteErr(err, "hold %d rooms", req.Rooms)
}

// ConfirmHold turns a live hold into a reservation.
func (s *Store) ConfirmHold(ctx context.Context, ref HoldRef) (booking Booking, replayed bool, err error) {
	err = withConn(ctx, s.Pool, func(conn *pgxpool.Conn) error {
		booking, replayed, err = confirmHeld(ctx, New(conn), ref)
		return err
	})
	return booking, replayed, wrapWriteErr(err, "confirm hold %d", ref.HoldID)
}

// ReleaseHold gives a hold's rooms back to the pool.
func (s *Store) ReleaseHold(ctx context.Context, ref HoldRef) error {
	err := withConn(ctx, s.Pool, func(conn *pgxpool.Conn) error {
		return releaseHeld(ctx, New(conn), ref)
	})
	return wrapWriteErr(err, "release hold %d", ref.HoldID)
}

// GetHold reads a hold.
func (s *Store) GetHold(ctx context.Context, ref HoldRef) (Hold, error) {
	hold, err := readHold(ctx, New(s.Pool), ref)
	if err != nil {
		return Hold{}, fmt.Errorf("read hold %d: %w", ref.HoldID, classify(err))
	}
	return hold, nil
}

func wrapWriteErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, classifyWrite(err))...)
}

// txBooker makes bookings inside one transaction.
type txBooker struct {
	tx         pgx.Tx
	raceWindow time.Duration
}

func (b txBooker) Reserve(ctx context.Context, strategy Strategy, req BookRequest) (Booking, error) {
	var conn DBTX = b.tx
	if b.raceWindow > 0 {
		conn = raceWindow{DBTX: conn, delay: b.raceWindow}
	}
	booking, err := bookReleasingOverdueHolds(ctx, New(conn), strategy, req)
	return booking, wrapWriteErr(caughtBySafetyNet(strategy, err), "reserve %d rooms (%s)", req.Rooms, strategy.Name)
}

func (b txBooker) PlaceHold(ctx context.Context, req HoldRequest) (Hold, error) {
	hold, err := holdRooms(ctx, New(b.tx), req)
	return hold, wrapWriteErr(err, "hold %d rooms", req.Rooms)
}

func (b txBooker) ConfirmHold(ctx context.Context, ref HoldRef) (Booking, bool, error) {
	booking, replayed, err := confirmHeld(ctx, New(b.tx), ref)
	return booking, replayed, wrapWriteErr(err, "confirm hold %d", ref.HoldID)
}

// bookReleasingOverdueHolds runs a strategy once more after giving back
// the rooms of overdue holds, when those may be all that refused it.
func bookReleasingOverdueHolds(ctx context.Context, q *Queries, s Strategy, req BookRequest) (Booking, error) {
	booking, err := s.Book(ctx, q, req)
	if !isShortfall(err) {
		return booking, err
	}
	freed, ferr := releaseOverdueHolds(ctx, q, req)
	if ferr != nil || freed == 0 {
		return booking, err
	}
	return s.Book(ctx, q, req)
}
