package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is what the HTTP layer needs from the database: availability reads
// and reservations through a named strategy.
type Store struct {
	Pool *pgxpool.Pool
	// RaceWindow, when positive, delays every booking write to widen the
	// gap a race needs (see raceWindow). Zero in normal operation. Batches
	// ignore it: a batch has no gap between a read and a write.
	RaceWindow time.Duration
	// OnRetry, when set, is told each time a strategy's transaction is
	// rerun after a serialization failure (metrics).
	OnRetry func(strategy string)
	// Batcher serves batched strategies; without one they book one
	// request per statement.
	Batcher *Batcher
}

func (s *Store) reserveOptions(strategy Strategy) reserveOptions {
	opts := reserveOptions{raceWindow: s.RaceWindow}
	if s.OnRetry != nil {
		opts.onRetry = func() { s.OnRetry(strategy.Name) }
	}
	return opts
}

// HotelAvailability is one hotel's counters for an event.
type HotelAvailability struct {
	EventID   int64
	HotelID   int64
	HotelName string
	Assigned  int32
	Reserved  int32
	Locked    int32
}

// Available is what the counters say is left to book. After the naive
// strategy's lost updates the counters can look healthy while reservations
// hold more rooms than assigned, which is why reports also sum the rows.
func (h HotelAvailability) Available() int32 { return h.Assigned - h.Reserved - h.Locked }

// Hotel reads one hotel's availability for an event.
func (s *Store) Hotel(ctx context.Context, eventID, hotelID int64) (HotelAvailability, error) {
	row, err := New(s.Pool).GetHotelAvailability(ctx, GetHotelAvailabilityParams{EventID: eventID, HotelID: hotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return HotelAvailability{}, hotelNotFound(eventID, hotelID)
	}
	if err != nil {
		return HotelAvailability{}, fmt.Errorf("read availability of event %d hotel %d: %w", eventID, hotelID, classify(err))
	}
	return HotelAvailability(row), nil
}

// Event reads the availability of every hotel of an event. An event without
// hotels has an empty list; an unknown event is ErrNotFound.
func (s *Store) Event(ctx context.Context, eventID int64) ([]HotelAvailability, error) {
	q := New(s.Pool)
	rows, err := q.ListEventAvailability(ctx, eventID)
	if err != nil {
		return nil, fmt.Errorf("read availability of event %d: %w", eventID, classify(err))
	}
	if len(rows) == 0 {
		exists, err := q.EventExists(ctx, eventID)
		if err != nil {
			return nil, fmt.Errorf("look up event %d: %w", eventID, classify(err))
		}
		if !exists {
			return nil, &NotFoundError{What: fmt.Sprintf("event %d", eventID)}
		}
	}
	hotels := make([]HotelAvailability, len(rows))
	for i, row := range rows {
		hotels[i] = HotelAvailability(row)
	}
	return hotels, nil
}

// Reserve books rooms with the named strategy.
func (s *Store) Reserve(ctx context.Context, strategy Strategy, req BookRequest) (Booking, error) {
	if strategy.Batched && s.Batcher != nil {
		res := s.Batcher.Submit(ctx, BatchRequest{Book: req})
		if res.Err != nil {
			return Booking{}, fmt.Errorf("reserve %d rooms (%s): %w", req.Rooms, strategy.Name, res.Err)
		}
		return res.Booking, nil
	}
	return reserve(ctx, s.Pool, strategy, req, s.reserveOptions(strategy))
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", classify(err))
	}
	return nil
}
