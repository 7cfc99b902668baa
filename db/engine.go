package db

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// The write engine. Every write, keyed or not, batched or not (a booking
// of any strategy, a hold, a confirm, a release), is one request run by
// write, whose attempts each run one transaction through transact:
//
//	write       the one retry policy: waits for a busy key, reruns
//	            conflicts (isConflict) and snapshot races, nothing else
//	  transact  one connection, one transaction: claim the keys, replay
//	            what was stored, do the work, store its outcomes, COMMIT
//
// A batched strategy's attempt hands the request to its Batcher, whose
// batch is one transact for many requests (batcher.go); a keyed request
// of a strategy with Strategy.BookKeyed, and a batch with keys of one with
// Strategy.BookBatchKeyed, first tries that one autocommit statement
// (fastpath.go). Nothing else retries.

// engine is what every write runs on.
type engine struct {
	pool *pgxpool.Pool
	q    *dbsqlc.Queries
	// onRetry, when set, is told each rerun after a conflict (isConflict),
	// with the policy's label (metrics).
	onRetry func(label string)
	// probeAlways makes every attempt look for its keys among bookings, as
	// if the previous one had raced (keyProtocolFor): tests show what the
	// SERIALIZABLE protocol avoids by not doing so.
	probeAlways bool
}

// result is one request's answer from a transaction: an outcome (stored
// under its key when it has one), or an error that is not final and was
// not stored (the key is reused, or busy with a request in progress).
type result[T any] struct {
	outcome evento.Outcome[T]
	err     error
}

// work does an operation's SQL on tx for the requests numbered todo and
// returns their outcomes in that order. An error fails the whole
// transaction: nothing it did is committed.
type work[T any] func(ctx context.Context, tx dbsqlc.DBTX, todo []int) ([]evento.Outcome[T], error)

// keyRaceAttempts bounds the runs after errKeyRaced; a rerun replays, so a
// second race needs a third request with the same key in the same instant.
const keyRaceAttempts = 3

// write runs attempt until it answers. This is the one retry policy of
// every write, and every case is something PostgreSQL, the strategy or a
// duplicate said before anything of the request was committed:
//   - the key is busy (a request with the same key is running): wait for
//     that request to end, outside any transaction, then run again; the
//     rerun replays its outcome, or runs for real if it rolled back. Past
//     duplicateWait, counted from the first time the key was found busy
//     (reruns after conflicts before it do not use up the wait):
//     evento.ErrRequestInProgress. attempt is told raced: that request
//     most likely committed the key.
//   - a conflict (isConflict): a serialization failure or a deadlock
//     (SQLSTATE 40001, 40P01), or a strategy's own evento.ErrConflict
//     (optimistic's lost swap): run again after a jittered, growing
//     backoff, so that the transactions that collided do not collide
//     again in lockstep; at most policy.attempts runs, then the conflict
//     is the answer.
//   - the key was committed after this transaction's snapshot, or, under
//     SERIALIZABLE, was not looked for among bookings (errKeyRaced, see
//     idempotency.go): run again at once, with a new snapshot; attempt is
//     told raced, and that run, and every one after it, looks for the
//     key everywhere.
//
// Anything else, a final refusal or an error, is the answer.
func write[T any](ctx context.Context, e *engine, policy txPolicy, key *evento.IdempotencyKey, attempt func(raced bool) result[T]) (evento.Outcome[T], error) {
	var busyUntil time.Time // zero until the key is first found busy
	reruns, races := 0, 0
	raced := false
	for {
		r := attempt(raced)
		// Once met in use, the key is looked for in every later attempt:
		// a rerun after a serialization failure of the attempt that
		// looked would otherwise race on it again.
		raced = raced || errors.Is(r.err, errKeyRaced) || errors.Is(r.err, errKeyBusy)
		switch {
		case errors.Is(r.err, errKeyBusy):
			if busyUntil.IsZero() {
				busyUntil = time.Now().Add(duplicateWait)
			}
			if err := awaitKey(ctx, e.q, e.pool, key.Key, time.Until(busyUntil)); err != nil {
				return evento.Outcome[T]{}, err
			}
		case isConflict(r.err) && reruns+1 < policy.attempts:
			reruns++
			if e.onRetry != nil {
				e.onRetry(policy.label)
			}
			if !backoff(ctx, reruns) {
				return r.outcome, r.err
			}
		case errors.Is(r.err, errKeyRaced) && races+1 < keyRaceAttempts:
			races++
		default:
			return r.outcome, r.err
		}
	}
}

// writeOne runs one request's work as a write of its own.
func writeOne[T any](ctx context.Context, e *engine, policy txPolicy, key *evento.IdempotencyKey, do work[T]) (evento.Outcome[T], error) {
	return write(ctx, e, policy, key, func(raced bool) result[T] {
		results, err := transact(ctx, e, policy, raced, []*evento.IdempotencyKey{key}, do)
		if err != nil {
			return result[T]{err: err}
		}
		return results[0]
	})
}

// backoff sleeps before the nth rerun, a random time under a ceiling that
// doubles from 1 ms up to 50 ms; false when ctx ended first. The first
// ceiling is about two bookings of a hot row: long enough for the winner
// to go on unopposed, short enough that the loser's server does not sit
// idle (with 8 clients on one hotel, 1-3 ms cost optimistic a tenth of
// its rate, and serializable nothing measurable).
func backoff(ctx context.Context, n int) bool {
	ceiling := min(time.Millisecond<<min(n-1, 6), 50*time.Millisecond)
	timer := time.NewTimer(time.Duration(rand.Int64N(int64(ceiling))))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// transact runs do for len(keys) requests (a nil key: a request without
// one) in one transaction on a connection of its own: policy's, or READ
// COMMITTED when a request has a key, or statement by statement when
// neither asks for a transaction. Inside it, the idempotency protocol
// (queries/idempotency.sql): claim the keys, replay the outcomes stored
// under keys used before, run do for the rest, store their outcomes.
// raced: the previous attempt met its key in use (write, keyProtocolFor).
// Its error means no request got an outcome, and says (classifyWrite)
// whether anything may have been committed (evento.ErrOutcomeUnknown) or
// not.
func transact[T any](ctx context.Context, e *engine, policy txPolicy, raced bool, keys []*evento.IdempotencyKey, do work[T]) ([]result[T], error) {
	options, inTx := policy.tx, policy.tx != nil
	if !inTx && hasKey(keys) {
		options, inTx = readCommitted, true
	}
	protocol := keyProtocolFor(options, raced || e.probeAlways)
	var results []result[T]
	err := withConn(ctx, e.pool, func(conn *pgxpool.Conn) error {
		run := func(tx dbsqlc.DBTX) (err error) {
			results, err = claimWorkStore(ctx, protocol, e.q, tx, keys, do)
			return err
		}
		if !inTx {
			return runStatements(conn, run)
		}
		// One request after whose work nothing is stored: its last
		// statement may carry the COMMIT (pipeline.go).
		endsWithLast := len(keys) == 1 && (keys[0] == nil || isBooking[T]())
		return runTransaction(ctx, conn, *options, endsWithLast, run)
	})
	if err != nil {
		return nil, classifyWrite(err)
	}
	return results, nil
}

// claimWorkStore is the body of every write's transaction: claim the keys,
// answer the requests whose key was used before or is busy, run do for the
// rest, store their outcomes, and look again for the keys of refusals that
// did not look among bookings (recheckRefusals).
func claimWorkStore[T any](ctx context.Context, p keyProtocol, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []*evento.IdempotencyKey, do work[T]) ([]result[T], error) {
	results := make([]result[T], len(keys))
	claims, err := p.claimKeys(ctx, q, tx, keys, armedKey[T](keys))
	if err != nil {
		return nil, err
	}
	var todo []int
	for i, c := range claims {
		if c.run {
			todo = append(todo, i)
		} else if results[i], err = answer[T](c); err != nil {
			return nil, err
		}
	}
	if len(todo) == 0 {
		return results, nil
	}
	outcomes, err := do(ctx, tx, todo)
	if err != nil {
		// A booking's INSERT may have met its key committed by a duplicate.
		return nil, keyRace(err)
	}
	for j, i := range todo {
		results[i].outcome = outcomes[j]
	}
	if err := storeOutcomes(ctx, q, tx, keys, todo, outcomes); err != nil {
		return nil, err
	}
	if err := recheckRefusals(ctx, p, q, tx, keys, todo, results); err != nil {
		return nil, err
	}
	return results, nil
}

// withConn runs fn on a connection of its own, so that a write's failure
// to even start is told apart from a failure after sending, and a lost
// connection from a refused statement; and a write PostgreSQL reported
// done with a WARNING (keepWarnings) from one it confirmed.
func withConn(ctx context.Context, pool *pgxpool.Pool, fn func(conn *pgxpool.Conn) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return &acquireError{err}
	}
	defer conn.Release()
	takeWarning(conn.Conn().PgConn()) // a previous user's
	err = fn(conn)
	if err != nil && conn.Conn().IsClosed() {
		err = &connLostError{err}
	}
	if w := takeWarning(conn.Conn().PgConn()); err == nil && w != nil {
		err = &warnedWriteError{w}
	}
	return err
}

// runTransaction runs run in a transaction and says of a failure whether
// it can have committed: only an error from COMMIT itself is in doubt, or
// one after a COMMIT that went out with the last statement (pipeline.go).
// (Not pgx.BeginTxFunc: it does not tell a failed COMMIT from a failed
// statement, and that difference is a 503 or a 504.)
func runTransaction(ctx context.Context, conn *pgxpool.Conn, options pgx.TxOptions, endsWithLast bool, run func(dbsqlc.DBTX) error) error {
	tx := &pipelinedTx{conn: conn.Conn(), options: options, endsWithLast: endsWithLast}
	err := run(tx)
	switch {
	case err != nil && tx.ended == committed:
		return fmt.Errorf("%w: failed after its COMMIT: %w", evento.ErrOutcomeUnknown, err)
	case err != nil && tx.ended == open:
		tx.rollback(ctx)
		return uncommitted(err)
	}
	if err := tx.commit(ctx); err != nil {
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

// outcomeOf turns an operation's (value, error) into its outcome: a
// success, a final refusal, or an error that fails the transaction.
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

// pick is values[i] for each of indexes, in order; nil for nil values (no
// keys at all).
func pick[T any](values []T, indexes []int) []T {
	if values == nil {
		return nil
	}
	picked := make([]T, len(indexes))
	for j, i := range indexes {
		picked[j] = values[i]
	}
	return picked
}
