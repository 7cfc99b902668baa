package db

import (
	"context"
	"fmt"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// Reserve books rooms with the strategy named mode, at most once per key:
// a write (engine.go) whose every attempt is one transaction of its own,
// or, for a batched strategy, a place in its hotel's next batch.
//
// One specialisation, and only one, comes first (fastpath.go): a reserve
// WITH an idempotency key, for a strategy with Strategy.BookKeyed (atomic,
// sharded, optimistic), runs that strategy's one autocommit statement, which
// claims the key and books, the key on the reservation, at once
// (queries/atomic.sql, AtomicBookKeyed; sharded.sql, ShardedBookKeyed;
// optimistic.sql, OptimisticBookKeyed, after its unlocked read or from
// the row version its last swap returned); a batched strategy's batch
// with keys does the same for the whole batch (Batcher.fastPath,
// Strategy.BookBatchKeyed; batched.sql, BatchBook), and commits only if
// it booked every request.
// Why: on the general path the hotel's row stays locked from the booking
// statement through the COMMIT, one more round trip; in one statement it
// is locked for that statement only, as for an unkeyed atomic booking.
// Why it is safe: it takes the key's advisory lock (the general path's
// very lock) without waiting before anything else, and commits nothing
// unless it booked; a key a booking used already undoes the statement
// through the reservations' key index. When it commits nothing (the key
// busy or used before, the rooms short, the hotel unknown, optimistic's
// swap lost) the request takes the general path from the start, which
// alone waits, replays, refuses a reused key and frees overdue holds.
// Tests: TestFastPath* in db/fastpath_test.go, TestOptimisticKeyed* in
// db/optimisticfastpath_test.go, TestKeyedBatch* in
// db/batchfastpath_test.go.
//
// A request whose client has a limit at the event (limits.go) never takes
// the fast path, and always runs in a transaction: the count of its
// client's rooms and its booking commit together, under the client's lock.
func (s *Store) Reserve(ctx context.Context, mode string, req evento.BookRequest, key *evento.IdempotencyKey) (evento.Outcome[evento.Booking], error) {
	strategy, ok := s.byName[mode]
	if !ok {
		return evento.Outcome[evento.Booking]{}, fmt.Errorf("%w %q", evento.ErrUnknownMode, mode)
	}
	if strategy.admitted() {
		leave, err := s.admit(ctx, req)
		if err != nil {
			return evento.Outcome[evento.Booking]{}, fmt.Errorf("reserve %d rooms (%s): %w", req.Rooms, strategy.Name, err)
		}
		defer leave()
	}
	policy := strategy.policy()
	if anyLimited(req) {
		policy = policy.inTransaction()
	}
	outcome, done, err := s.fastPath(ctx, strategy, req, key)
	if !done && err == nil {
		if batcher := s.batchers[mode]; batcher != nil {
			outcome, err = write(ctx, &s.engine, policy, key, func(bool) result[evento.Booking] {
				return batcher.Submit(ctx, req, key)
			})
		} else {
			outcome, err = writeOne(ctx, &s.engine, policy, key,
				func(ctx context.Context, tx dbsqlc.DBTX, _ []int) ([]evento.Outcome[evento.Booking], error) {
					return book(ctx, s.q, tx, strategy, []evento.BookRequest{req}, nil, s.beforeWrite)
				})
		}
	}
	if err != nil {
		return outcome, fmt.Errorf("reserve %d rooms (%s): %w", req.Rooms, strategy.Name, caughtBySafetyNet(strategy, err))
	}
	return outcome, nil
}

// fastPath runs the strategy's BookKeyed for a keyed request (fastpath.go).
// done is false when there is none to run, or it committed nothing.
func (s *Store) fastPath(ctx context.Context, strategy Strategy, req evento.BookRequest, key *evento.IdempotencyKey) (outcome evento.Outcome[evento.Booking], done bool, err error) {
	if key == nil || strategy.BookKeyed == nil || anyLimited(req) {
		return outcome, false, nil
	}
	done, err = runFastPath(ctx, s.pool, strategy, s.beforeWrite, func(st Statements) (bool, error) {
		booking, done, err := strategy.BookKeyed(ctx, st, req, *key)
		outcome = evento.Done(booking)
		return done, err
	})
	if err != nil || !done {
		return evento.Outcome[evento.Booking]{}, false, err
	}
	return outcome, true, nil
}
