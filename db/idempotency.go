package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	// ErrKeyReused means the idempotency key was first used for a
	// different request.
	ErrKeyReused = errors.New("idempotency key reused for a different request")
	// ErrRequestInProgress means a request with the same key is still
	// running; retrying shortly will replay its outcome.
	ErrRequestInProgress = errors.New("a request with this idempotency key is in progress")
)

// duplicateWait bounds how long a duplicate waits for the first request
// with its key before it is told to retry.
const duplicateWait = "2s"

// IdempotencyKey is a client's key for one logical request.
type IdempotencyKey struct {
	Key         string
	Fingerprint string        // identifies the request: method, route and body
	Keep        time.Duration // how long the outcome is replayed
}

// StoredResponse is the outcome a key replays.
type StoredResponse struct {
	Status int
	Body   []byte
}

// Idempotently runs do at most once per key. The first request claims the
// key, runs do inside the key's transaction and stores do's response before
// COMMIT; a repeat replays that response (replayed = true) and books
// nothing. When do returns an error, nothing is stored and nothing it did
// is kept, so the request can be retried with the same key.
//
// The transaction runs under policy: a strategy that relies on SERIALIZABLE
// gets it here too, and is rerun as a whole (claim included) on
// serialization failures.
func (s *Store) Idempotently(ctx context.Context, key IdempotencyKey, policy TxPolicy,
	do func(ctx context.Context, b Booker) (StoredResponse, error),
) (resp StoredResponse, replayed bool, err error) {
	var onRetry func()
	if s.OnRetry != nil {
		onRetry = func() { s.OnRetry("idempotent") }
	}
	err = retrySerializationFailures(ctx, policy.Attempts, onRetry, func() error {
		return withConn(ctx, s.Pool, func(conn *pgxpool.Conn) error {
			return pgx.BeginTxFunc(ctx, conn, policy.Options, func(tx pgx.Tx) (err error) {
				resp, replayed, err = s.runOnce(ctx, tx, key, do)
				return uncommitted(err)
			})
		})
	})
	if err != nil {
		return StoredResponse{}, false, fmt.Errorf("idempotency key %q: %w", key.Key, classifyWrite(err))
	}
	return resp, replayed, nil
}

// runOnce claims the key and runs do, or replays the key's stored answer.
func (s *Store) runOnce(ctx context.Context, tx pgx.Tx, key IdempotencyKey,
	do func(ctx context.Context, b Booker) (StoredResponse, error),
) (StoredResponse, bool, error) {
	q := New(tx)
	claimed, err := claimKey(ctx, q, key)
	if err != nil {
		return StoredResponse{}, false, err
	}
	if !claimed {
		stored, err := q.GetIdempotentResponse(ctx, key.Key)
		if err != nil {
			return StoredResponse{}, false, fmt.Errorf("read stored response: %w", err)
		}
		if stored.Fingerprint != key.Fingerprint {
			return StoredResponse{}, false, ErrKeyReused
		}
		return StoredResponse{Status: int(stored.Status), Body: stored.Body}, true, nil
	}
	resp, err := do(ctx, txBooker{tx: tx, raceWindow: s.RaceWindow})
	if err != nil {
		return StoredResponse{}, false, err
	}
	err = q.StoreIdempotentResponse(ctx, StoreIdempotentResponseParams{
		Key: key.Key, Status: int32(resp.Status), Body: resp.Body,
	})
	return resp, false, err
}

// claimKey inserts the key, waiting at most duplicateWait for a concurrent
// request that holds it.
func claimKey(ctx context.Context, q *Queries, key IdempotencyKey) (bool, error) {
	if err := q.SetLockTimeout(ctx, duplicateWait); err != nil {
		return false, fmt.Errorf("bound the wait for the key: %w", err)
	}
	err := q.LockIdempotencyKey(ctx, key.Key)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.LockNotAvailable {
		return false, ErrRequestInProgress
	}
	if err != nil {
		return false, fmt.Errorf("lock key: %w", err)
	}
	rows, err := q.ClaimIdempotencyKey(ctx, ClaimIdempotencyKeyParams{
		Key: key.Key, Fingerprint: key.Fingerprint, TtlSeconds: int32(key.Keep / time.Second),
	})
	if err != nil {
		return false, fmt.Errorf("claim key: %w", err)
	}
	// Only the claim may give up early; the booking waits as it would
	// without a key.
	if err := q.SetLockTimeout(ctx, "0"); err != nil {
		return false, fmt.Errorf("reset lock timeout: %w", err)
	}
	return rows == 1, nil
}
