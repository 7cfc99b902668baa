package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// The one path every write takes, keyed or not, batched or not:
//
//	write / Batcher.Submit   one request, or one request queued for a batch
//	  whileKeyBusy           a duplicate of a running request waits, then retries
//	    unit                 a connection, the strategy's transaction, reruns
//	      once               claim the keys, replay or run, store the outcomes
//	        work             the operation's SQL (a strategy, a hold, a confirm)
//
// One specialisation, and only one, branches off before whileKeyBusy, in
// Store.reserveOne: a reserve WITH an idempotency key, for a strategy with
// Strategy.BookKeyed (atomic, sharded), first runs that strategy's one
// autocommit statement, which claims the key, books and stores the outcome
// at once (queries/atomic.sql, AtomicBookKeyed; sharded.sql,
// ShardedBookKeyed). Why: on the general path the
// hotel's row stays locked from the booking statement through the
// outcome's UPDATE and the COMMIT, two more round trips; in one statement
// it is locked for that statement only, as for an unkeyed atomic booking.
// Why it is safe: it takes the key's advisory lock (the general path's
// very lock) without waiting before anything else, and commits nothing
// unless it both booked and stored the outcome; a key already stored
// undoes the statement through the key's primary key. When it commits
// nothing (the key busy or used before, the rooms short, the hotel
// unknown) the request takes the general path below from the start, which
// alone waits, replays, refuses a reused key, frees overdue holds and
// stores refusals. Tests: TestFastPath* in db/fastpath_test.go.

// result is one request's answer from a unit of work: an outcome (stored
// under its key when it has one), or an error that is not final and was
// not stored (the key is reused, or busy with a request in progress).
type result[T any] struct {
	outcome evento.Outcome[T]
	err     error
}

// work does an operation's SQL on tx for the requests numbered todo and
// returns their outcomes in that order. An error fails the whole unit:
// nothing it did is committed.
type work[T any] func(ctx context.Context, tx dbsqlc.DBTX, todo []int) ([]evento.Outcome[T], error)

// write runs one request: do on a connection (in policy's transaction),
// at most once per key when key is set.
func write[T any](ctx context.Context, s *Store, policy txPolicy, key *evento.IdempotencyKey,
	do func(ctx context.Context, tx dbsqlc.DBTX) (evento.Outcome[T], error),
) (evento.Outcome[T], error) {
	return whileKeyBusy(ctx, s, key, func() (evento.Outcome[T], error) {
		results, err := unit(ctx, s, policy, []*evento.IdempotencyKey{key},
			func(ctx context.Context, tx dbsqlc.DBTX, _ []int) ([]evento.Outcome[T], error) {
				outcome, err := do(ctx, tx)
				return []evento.Outcome[T]{outcome}, err
			})
		if err != nil {
			return evento.Outcome[T]{}, err
		}
		return results[0].outcome, results[0].err
	})
}

// whileKeyBusy runs attempt; when the request's key is held by a request
// still in progress, it waits for that request to end and runs attempt
// again, for at most duplicateWait in all (then ErrRequestInProgress).
// After the first request commits, the retry replays its outcome; after it
// rolls back, the retry claims the key and runs for real.
func whileKeyBusy[T any](ctx context.Context, s *Store, key *evento.IdempotencyKey, attempt func() (evento.Outcome[T], error)) (evento.Outcome[T], error) {
	deadline := time.Now().Add(duplicateWait)
	for {
		outcome, err := attempt()
		if !errors.Is(err, errKeyBusy) {
			return outcome, err
		}
		if err := s.awaitKey(ctx, key.Key, time.Until(deadline)); err != nil {
			return evento.Outcome[T]{}, err
		}
	}
}

// unit runs do for len(keys) requests (a nil key: a request without one)
// on one connection: in policy's transaction, or in a READ COMMITTED one
// when any request has a key, or statement by statement when neither asks
// for a transaction. Serialization failures rerun it whole, claims
// included. Its error means no request got an outcome, and says whether
// anything may have been committed (evento.ErrOutcomeUnknown) or not.
func unit[T any](ctx context.Context, s *Store, policy txPolicy, keys []*evento.IdempotencyKey, do work[T]) ([]result[T], error) {
	var results []result[T]
	run := func(tx dbsqlc.DBTX) (err error) {
		results, err = once(ctx, s.q, tx, keys, do)
		return err
	}
	options, inTx := policy.tx, policy.tx != nil
	if !inTx && hasKey(keys) {
		options, inTx = readCommitted, true
	}
	var onRetry func()
	if s.onRetry != nil {
		onRetry = func() { s.onRetry(policy.label) }
	}
	attempt := func() error {
		return withConn(ctx, s.pool, func(conn *pgxpool.Conn) error {
			if !inTx {
				return runStatements(conn, run)
			}
			return runTransaction(ctx, conn, *options, run)
		})
	}
	var err error
	for range keyRaceAttempts {
		err = retrySerializationFailures(ctx, policy.attempts, onRetry, attempt)
		if !errors.Is(err, errKeyRaced) {
			break
		}
	}
	if err != nil {
		return nil, classifyWrite(err)
	}
	return results, nil
}

// keyRaceAttempts bounds the reruns after errKeyRaced; a rerun replays, so
// a second race needs a third request with the same key in the same instant.
const keyRaceAttempts = 3

// runTransaction runs run in a transaction and says of a failure whether
// it can have committed: only an error from COMMIT itself is in doubt.
func runTransaction(ctx context.Context, conn *pgxpool.Conn, options pgx.TxOptions, run func(dbsqlc.DBTX) error) error {
	tx, err := conn.BeginTx(ctx, options)
	if err != nil {
		return uncommitted(fmt.Errorf("begin: %w", err))
	}
	if err := run(tx); err != nil {
		// A failed rollback changes nothing: the transaction ends with
		// its session either way, uncommitted.
		_ = tx.Rollback(ctx)
		return uncommitted(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// runStatements runs run's statements each in a transaction of its own. A
// failure before the first statement went out committed nothing; after
// that, a statement may have committed whatever the error says.
func runStatements(conn *pgxpool.Conn, run func(dbsqlc.DBTX) error) error {
	sent := 0
	err := run(hookedTx{DBTX: conn, before: func(context.Context) { sent++ }})
	if err != nil && sent <= 1 && pgconn.SafeToRetry(err) {
		return uncommitted(err)
	}
	return err
}

func hasKey(keys []*evento.IdempotencyKey) bool {
	for _, k := range keys {
		if k != nil {
			return true
		}
	}
	return false
}

// once is the idempotency protocol inside a unit's transaction (see
// queries/idempotency.sql): claim the keys, answer the requests whose key
// was used before or is busy, run do for the rest, store their outcomes.
func once[T any](ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []*evento.IdempotencyKey, do work[T]) ([]result[T], error) {
	results := make([]result[T], len(keys))
	claims, err := claimKeys(ctx, q, tx, keys)
	if err != nil {
		return nil, err
	}
	var todo []int
	for i, c := range claims {
		switch {
		case c.run:
			todo = append(todo, i)
		case c.err != nil:
			results[i].err = c.err
		default:
			if results[i].outcome, err = decodeOutcome[T](c.stored); err != nil {
				return nil, err
			}
			results[i].outcome.Replayed = true
		}
	}
	if len(todo) == 0 {
		return results, nil
	}
	outcomes, err := do(ctx, tx, todo)
	if err != nil {
		return nil, err
	}
	for j, i := range todo {
		results[i].outcome = outcomes[j]
	}
	if err := storeOutcomes(ctx, q, tx, keys, todo, outcomes); err != nil {
		return nil, err
	}
	return results, nil
}

// outcomeOf turns an operation's (value, error) into its outcome: a
// success, a final refusal, or an error that fails the unit.
func outcomeOf[T any](v T, err error) (evento.Outcome[T], error) {
	switch {
	case err == nil:
		return evento.Done(v), nil
	case evento.IsRefusal(err):
		return evento.Refused[T](err), nil
	default:
		return evento.Outcome[T]{}, err
	}
}
