package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// duplicateWait bounds how long a duplicate waits for the request holding
// its key before it is told the request is still in progress.
const duplicateWait = 2 * time.Second

// errKeyBusy means another transaction holds the request's key right now;
// write (engine.go) waits for it and tries again.
var errKeyBusy = errors.New("idempotency key held by a request in progress")

// errKeyRaced means a key was committed by a request this transaction's
// snapshot cannot see (see queries/idempotency.sql): the unit runs again,
// with a new snapshot, and replays that request's outcome.
var errKeyRaced = errors.New("idempotency key committed after this transaction's snapshot")

// claim is what ClaimIdempotencyKeys said of one request's key.
type claim struct {
	run    bool                             // the key is this transaction's (or there is none): do the work
	stored dbsqlc.GetIdempotencyOutcomesRow // otherwise, the outcome to replay...
	err    error                            // ...or why not: errKeyBusy, evento.ErrKeyReused
}

// claimKeys claims the keys of a unit's requests in one statement, and
// reads the outcomes to replay in a second one only when some key was used
// before. A key that appears twice is busy the second time: the first is
// being run by this very transaction.
func claimKeys(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []*evento.IdempotencyKey) ([]claim, error) {
	claims := make([]claim, len(keys))
	var params dbsqlc.ClaimIdempotencyKeysParams
	first := map[string]int{}
	for i, k := range keys {
		switch _, seen := first[keyOf(k)]; {
		case k == nil:
			claims[i].run = true
		case seen:
			claims[i].err = errKeyBusy
		default:
			first[k.Key] = i
			claims[i].err = errKeyBusy // until the claim says it is locked
			params.Keys = append(params.Keys, k.Key)
			params.Fingerprints = append(params.Fingerprints, k.Fingerprint)
			params.TtlSeconds = max(params.TtlSeconds, int32(k.Keep/time.Second))
		}
	}
	if len(params.Keys) == 0 {
		return claims, nil
	}
	rows, err := q.ClaimIdempotencyKeys(ctx, tx, params)
	if err != nil {
		return nil, fmt.Errorf("claim idempotency keys: %w", err)
	}
	var usedBefore []string
	for _, row := range rows {
		i := first[row.Key]
		claims[i].err = nil
		if row.Owned {
			claims[i].run = true
		} else {
			usedBefore = append(usedBefore, row.Key)
		}
	}
	if len(usedBefore) == 0 {
		return claims, nil
	}
	stored, err := q.GetIdempotencyOutcomes(ctx, tx, usedBefore)
	if err != nil {
		return nil, fmt.Errorf("read idempotency outcomes: %w", err)
	}
	if len(stored) != len(usedBefore) {
		return nil, errKeyRaced
	}
	for _, row := range stored {
		i := first[row.Key]
		switch {
		case row.Outcome == nil && !row.ReservationID.Valid:
			// Cannot happen while outcomes are written before COMMIT and
			// the lock is held; if it does, this request alone retries.
			claims[i].err = errKeyBusy
		case row.Fingerprint != keys[i].Fingerprint:
			claims[i].err = evento.ErrKeyReused
		default:
			claims[i].stored = row
		}
	}
	return claims, nil
}

func keyOf(k *evento.IdempotencyKey) string {
	if k == nil {
		return ""
	}
	return k.Key
}

// storeOutcomes writes the kept outcomes (evento.Outcome.Kept) of the keyed
// requests among todo into their keys' rows, and deletes the rows of the
// others, before COMMIT: a key holds only what was done, never a refusal.
// Each is stored as codec.go's encodeKept says, which replay turns back.
func storeOutcomes[T any](ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []*evento.IdempotencyKey, todo []int, outcomes []evento.Outcome[T]) error {
	var params dbsqlc.StoreIdempotencyOutcomesParams
	var forget []string
	for j, i := range todo {
		switch {
		case keys[i] == nil:
		case !outcomes[j].Kept():
			forget = append(forget, keys[i].Key)
		default:
			encoded, reservationID, err := encodeKept(outcomes[j])
			if err != nil {
				return err
			}
			params.Keys = append(params.Keys, keys[i].Key)
			params.Outcomes = append(params.Outcomes, encoded)
			params.ReservationIds = append(params.ReservationIds, reservationID)
		}
	}
	if len(params.Keys) > 0 {
		if err := q.StoreIdempotencyOutcomes(ctx, tx, params); err != nil {
			return fmt.Errorf("store idempotency outcomes: %w", err)
		}
	}
	if len(forget) > 0 {
		if err := q.ForgetIdempotencyKeys(ctx, tx, forget); err != nil {
			return fmt.Errorf("forget idempotency keys: %w", err)
		}
	}
	return nil
}

// awaitKey waits, at most wait, until no transaction holds key.
func awaitKey(ctx context.Context, q *dbsqlc.Queries, pool dbsqlc.DBTX, key string, wait time.Duration) error {
	if wait <= 0 {
		return evento.ErrRequestInProgress
	}
	err := q.WaitForIdempotencyKey(ctx, pool, dbsqlc.WaitForIdempotencyKeyParams{
		Key: key, WaitMs: strconv.FormatInt(max(wait.Milliseconds(), 1), 10),
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.LockNotAvailable {
		return evento.ErrRequestInProgress
	}
	if err != nil {
		// The error reaches the server's log; the key itself would let
		// whoever reads it replay the request's answer.
		return fmt.Errorf("wait for the request holding idempotency key #%s: %w", evento.ShortHash(key), classify(err))
	}
	return nil
}
