package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// Options tune a Store. The zero value serves every strategy with no
// delays and no metrics.
type Options struct {
	// Strategies the store serves (default: Strategies).
	Strategies []Strategy
	// RaceWindow, when positive, delays every booking write (each
	// strategy's Statements.Write) to widen the gap a race needs. Zero in
	// normal operation.
	RaceWindow time.Duration
	// OnRetry, when set, is told each time a transaction is rerun after it
	// lost to a concurrent one (a serialization failure, a deadlock, a
	// strategy's evento.ErrConflict), with the strategy's name (metrics).
	OnRetry func(strategy string)
	// Batches configures the Batchers of batched strategies.
	Batches BatchOptions
	// HotelAdmission, when positive, lets at most this many of the store's
	// bookings and holds per hotel into PostgreSQL at once, for the
	// strategies whose bookings queue on the hotel's row (admission.go).
	HotelAdmission int
}

// Store is the data layer behind evento.Service: one entry point per
// operation, each taking an optional idempotency key and returning a
// domain outcome. Every write takes the same path (see engine.go).
type Store struct {
	engine
	strategies  []Strategy
	byName      map[string]Strategy
	beforeWrite func(context.Context)
	batchers    map[string]*Batcher
	// holders queues each client's capped holds in memory (gates.go).
	holders *gates[evento.ClientID]
	// hotels queues the bookings and holds of each hotel past
	// Options.HotelAdmission in memory; nil when admission is off.
	hotels *gates[hotelRef]
}

var _ evento.Service = (*Store)(nil)

// NewStore serves the strategies on pool.
func NewStore(pool *pgxpool.Pool, opts Options) *Store {
	s := &Store{
		engine:     engine{pool: pool, q: dbsqlc.New(), onRetry: opts.OnRetry},
		strategies: opts.Strategies, beforeWrite: raceWindow(opts.RaceWindow),
		byName: map[string]Strategy{}, batchers: map[string]*Batcher{},
		holders: newGates[evento.ClientID](1),
	}
	if opts.HotelAdmission > 0 {
		s.hotels = newGates[hotelRef](opts.HotelAdmission)
	}
	if s.strategies == nil {
		s.strategies = Strategies
	}
	for _, strategy := range s.strategies {
		if strategy.RemembersRows {
			strategy.versions = new(rowVersions)
		}
		s.byName[strategy.Name] = strategy
		if strategy.BookBatch != nil {
			s.batchers[strategy.Name] = newBatcher(opts.Batches, &s.engine, strategy, s.beforeWrite)
		}
	}
	return s
}

// raceWindow delays every booking write by d. It exists for demonstrations
// and tests: stretching the gap between a strategy's read and its write
// makes each strategy's behaviour under contention show on every run
// (naive overbooks, pessimistic queues, optimistic conflicts) instead of
// only on busy machines. A strategy with no read before its write (atomic,
// batched) just gets slower.
func raceWindow(d time.Duration) func(context.Context) {
	if d <= 0 {
		return nil
	}
	return func(ctx context.Context) {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
	}
}

// Strategies lists the names of the strategies the store serves.
func (s *Store) Strategies() []string { return names(s.strategies) }

// Hotel reads one hotel's availability for an event.
func (s *Store) Hotel(ctx context.Context, eventID, hotelID int64) (evento.HotelAvailability, error) {
	row, err := s.q.GetHotelAvailability(ctx, s.pool, dbsqlc.GetHotelAvailabilityParams{EventID: eventID, HotelID: hotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return evento.HotelAvailability{}, evento.HotelNotFound(eventID, hotelID)
	}
	if err != nil {
		return evento.HotelAvailability{}, fmt.Errorf("read availability of event %d hotel %d: %w", eventID, hotelID, classify(err))
	}
	return evento.HotelAvailability(row), nil
}

// Event reads the availability of every hotel of an event. An event without
// hotels has an empty list; an unknown event is ErrNotFound.
func (s *Store) Event(ctx context.Context, eventID int64) ([]evento.HotelAvailability, error) {
	rows, err := s.q.ListEventAvailability(ctx, s.pool, eventID)
	if err != nil {
		return nil, fmt.Errorf("read availability of event %d: %w", eventID, classify(err))
	}
	if len(rows) == 0 {
		exists, err := s.q.EventExists(ctx, s.pool, eventID)
		if err != nil {
			return nil, fmt.Errorf("look up event %d: %w", eventID, classify(err))
		}
		if !exists {
			return nil, &evento.NotFoundError{What: fmt.Sprintf("event %d", eventID)}
		}
	}
	hotels := make([]evento.HotelAvailability, len(rows))
	for i, row := range rows {
		hotels[i] = evento.HotelAvailability(row)
	}
	return hotels, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", classify(err))
	}
	return nil
}
