package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// Reserve books rooms with the strategy named mode, at most once per key.
// A batched strategy's request joins its hotel's next batch; any other
// runs in a transaction of its own (a keyed atomic one tries its one
// statement first). All take the path of write.go.
func (s *Store) Reserve(ctx context.Context, mode string, req evento.BookRequest, key *evento.IdempotencyKey) (evento.Outcome[evento.Booking], error) {
	strategy, ok := lookup(s.strategies, mode)
	if !ok {
		return evento.Outcome[evento.Booking]{}, fmt.Errorf("%w %q", evento.ErrUnknownMode, mode)
	}
	var outcome evento.Outcome[evento.Booking]
	var err error
	if batcher := s.batchers[mode]; batcher != nil {
		outcome, err = whileKeyBusy(ctx, s, key, func() (evento.Outcome[evento.Booking], error) {
			r := batcher.Submit(ctx, req, key)
			return r.outcome, r.err
		})
	} else {
		outcome, err = s.reserveOne(ctx, strategy, req, key)
	}
	if err != nil {
		return outcome, fmt.Errorf("reserve %d rooms (%s): %w", req.Rooms, strategy.Name, caughtBySafetyNet(strategy, err))
	}
	return outcome, nil
}

// reserveOne books one request in a transaction of its own: the general
// path (write), or first, for a keyed request of a strategy with
// BookKeyed, the fast path, which hands over to the general path whenever
// it committed nothing.
func (s *Store) reserveOne(ctx context.Context, strategy Strategy, req evento.BookRequest, key *evento.IdempotencyKey) (evento.Outcome[evento.Booking], error) {
	if key != nil && strategy.BookKeyed != nil {
		if outcome, done, err := s.bookKeyed(ctx, strategy, req, *key); done || err != nil {
			return outcome, err
		}
	}
	return write(ctx, s, strategy.policy(), key, func(ctx context.Context, tx dbsqlc.DBTX) (evento.Outcome[evento.Booking], error) {
		outcomes, err := s.book(ctx, strategy, tx, []evento.BookRequest{req})
		if err != nil {
			return evento.Outcome[evento.Booking]{}, err
		}
		return outcomes[0], nil
	})
}

// bookKeyed is the fast path of a keyed request for a strategy with
// BookKeyed (see write.go): its one statement, on a connection of its own
// and outside any transaction. done is false when it committed nothing,
// and the request must take the general path.
func (s *Store) bookKeyed(ctx context.Context, strategy Strategy, req evento.BookRequest, key evento.IdempotencyKey) (outcome evento.Outcome[evento.Booking], done bool, err error) {
	err = withConn(ctx, s.pool, func(conn *pgxpool.Conn) error {
		return runStatements(conn, func(tx dbsqlc.DBTX) error {
			booking, booked, err := strategy.BookKeyed(ctx, statementsOn(tx, s.beforeWrite), req, key)
			outcome, done = evento.Done(booking), booked
			return err
		})
	})
	if err != nil {
		return evento.Outcome[evento.Booking]{}, false, classifyWrite(err)
	}
	return outcome, done, nil
}

// batchBooker is how a batched strategy's Batcher books a batch: one unit
// of work, claiming the batch's keys in the batch's own transaction.
func (s *Store) batchBooker(strategy Strategy) bookFunc {
	return func(ctx context.Context, reqs []evento.BookRequest, keys []*evento.IdempotencyKey) ([]result[evento.Booking], error) {
		return unit(ctx, s, strategy.policy(), keys, func(ctx context.Context, tx dbsqlc.DBTX, todo []int) ([]evento.Outcome[evento.Booking], error) {
			return s.book(ctx, strategy, tx, pick(reqs, todo))
		})
	}
}

// book books reqs, all for one hotel, with the strategy: each with Book,
// or all at once with BookBatch.
func (s *Store) book(ctx context.Context, strategy Strategy, tx dbsqlc.DBTX, reqs []evento.BookRequest) ([]evento.Outcome[evento.Booking], error) {
	st := statementsOn(tx, s.beforeWrite)
	return retryAfterFreeingOverdueHolds(ctx, s.q, tx, reqs[0], len(reqs), strategy.Buckets, func(todo []int) ([]evento.Outcome[evento.Booking], error) {
		if strategy.BookBatch != nil {
			return strategy.BookBatch(ctx, st, pick(reqs, todo))
		}
		outcomes := make([]evento.Outcome[evento.Booking], len(todo))
		for j, i := range todo {
			var err error
			if outcomes[j], err = outcomeOf(strategy.Book(ctx, st, reqs[i])); err != nil {
				return nil, err
			}
		}
		return outcomes, nil
	})
}

// retryAfterFreeingOverdueHolds runs try for n requests at one hotel. When
// some were refused for lack of rooms, overdue holds may be what took
// them: their rooms are given back and try runs once more for the refused
// ones, in order. This is the one place where a write frees dead holds,
// and where a refusal learns of rooms it could not reach (tellOutOfReach);
// reachesBuckets says whether try books a sharded hotel's buckets.
func retryAfterFreeingOverdueHolds[T any](ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, hotel evento.BookRequest, n int, reachesBuckets bool,
	try func(todo []int) ([]evento.Outcome[T], error),
) ([]evento.Outcome[T], error) {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	outcomes, err := try(all)
	if err != nil {
		return nil, err
	}
	var refused []int
	for i, o := range outcomes {
		if isShortfall(o.Refusal) {
			refused = append(refused, i)
		}
	}
	if len(refused) == 0 {
		return outcomes, nil
	}
	freed, err := releaseOverdueHolds(ctx, q, tx, hotel)
	if err != nil {
		return nil, err
	}
	if freed > 0 {
		again, err := try(refused)
		if err != nil {
			return nil, err
		}
		for j, i := range refused {
			outcomes[i] = again[j]
		}
	}
	return outcomes, tellOutOfReach(ctx, q, tx, hotel, reachesBuckets, outcomes)
}

// tellOutOfReach adds to each shortfall the rooms the hotel has in live
// holds, so that a request that would fit once they come back is told to
// wait (evento.ErrRoomsHeld) instead of that the hotel is sold out; and,
// unless the request reached them, the free rooms in the hotel's buckets
// (evento.ErrInventorySharded).
func tellOutOfReach[T any](ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, hotel evento.BookRequest, reachesBuckets bool, outcomes []evento.Outcome[T]) error {
	var out *dbsqlc.HotelRoomsOutOfReachRow
	for _, o := range outcomes {
		var shortfall *evento.ShortfallError
		if !errors.As(o.Refusal, &shortfall) {
			continue
		}
		if out == nil {
			row, err := q.HotelRoomsOutOfReach(ctx, tx, dbsqlc.HotelRoomsOutOfReachParams{EventID: hotel.EventID, HotelID: hotel.HotelID})
			if err != nil {
				return fmt.Errorf("read held and bucketed rooms: %w", err)
			}
			out = &row
		}
		shortfall.Held, shortfall.HeldUntil = out.Rooms, out.SoonestExpiry
		if !reachesBuckets {
			shortfall.Bucketed = out.Bucketed
		}
	}
	return nil
}

func pick[T any](values []T, indexes []int) []T {
	picked := make([]T, len(indexes))
	for j, i := range indexes {
		picked[j] = values[i]
	}
	return picked
}
