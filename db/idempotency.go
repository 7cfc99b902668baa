package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
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

// keyProtocol is how a transaction claims and stores its keys
// (queries/idempotency.sql): under READ COMMITTED a key's row is inserted
// once, after the work; under SERIALIZABLE (insertFirst) it is inserted
// before the work and filled in after, because there a read of an absent
// key would predicate-lock its index page.
type keyProtocol struct{ insertFirst bool }

func keyProtocolFor(options *pgx.TxOptions) keyProtocol {
	return keyProtocol{insertFirst: options != nil && options.IsoLevel == pgx.Serializable}
}

// claimKeys claims the keys of a unit's requests in one statement, and
// reads the outcomes to replay in a second one only when some key was used
// before. A key that appears twice is busy the second time: the first is
// being run by this very transaction.
func (p keyProtocol) claimKeys(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []*evento.IdempotencyKey) ([]claim, error) {
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
	locked, err := p.lock(ctx, q, tx, params)
	if err != nil {
		return nil, err
	}
	var usedBefore []string
	for key, used := range locked {
		i := first[key]
		claims[i].err = nil
		if used {
			usedBefore = append(usedBefore, key)
		} else {
			claims[i].run = true
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
	var replayed []string
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
			replayed = append(replayed, row.Key)
		}
	}
	if len(replayed) > 0 && !p.insertFirst {
		// Replayed only if this transaction commits, and under synchronous
		// replication it then commits only once the standby has what it
		// replays; the insert-first claim's row lock already makes it wait
		// (queries/idempotency.sql, AwaitReplicaOfReplay).
		if err := q.AwaitReplicaOfReplay(ctx, tx, replayed); err != nil {
			return nil, fmt.Errorf("lock the replayed keys: %w", err)
		}
	}
	return claims, nil
}

// lock takes the keys' locks that it can get and says of each locked key
// whether it was used before (otherwise it is this transaction's now).
func (p keyProtocol) lock(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, params dbsqlc.ClaimIdempotencyKeysParams) (map[string]bool, error) {
	locked := map[string]bool{}
	if p.insertFirst {
		rows, err := q.ClaimIdempotencyKeys(ctx, tx, params)
		if err != nil {
			return nil, fmt.Errorf("claim idempotency keys: %w", err)
		}
		for _, row := range rows {
			locked[row.Key] = !row.Owned
		}
		return locked, nil
	}
	rows, err := q.LockIdempotencyKeys(ctx, tx, params.Keys)
	if err != nil {
		return nil, fmt.Errorf("lock idempotency keys: %w", err)
	}
	var expired []string
	for _, row := range rows {
		locked[row.Key] = row.Used
		if row.Expired {
			expired = append(expired, row.Key)
		}
	}
	if len(expired) > 0 {
		if err := q.DeleteExpiredIdempotencyKeys(ctx, tx, expired); err != nil {
			return nil, fmt.Errorf("delete expired idempotency keys: %w", err)
		}
	}
	return locked, nil
}

func keyOf(k *evento.IdempotencyKey) string {
	if k == nil {
		return ""
	}
	return k.Key
}

// storeOutcomes writes the kept outcomes (evento.Outcome.Kept) of the keyed
// requests among todo under their keys, before COMMIT: a key holds only
// what was done, never a refusal. Each is stored as codec.go's encodeKept
// says, which replay turns back. Under READ COMMITTED the rows are
// inserted now, and a refusal leaves none; under SERIALIZABLE the claimed
// rows are filled in, and a refusal's is deleted.
func storeOutcomes[T any](ctx context.Context, p keyProtocol, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []*evento.IdempotencyKey, todo []int, outcomes []evento.Outcome[T]) error {
	var params dbsqlc.RecordIdempotencyOutcomesParams
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
			params.Fingerprints = append(params.Fingerprints, keys[i].Fingerprint)
			params.Outcomes = append(params.Outcomes, encoded)
			params.ReservationIds = append(params.ReservationIds, reservationID)
			params.TtlSeconds = max(params.TtlSeconds, int32(keys[i].Keep/time.Second))
		}
	}
	if !p.insertFirst {
		if len(params.Keys) == 0 {
			return nil
		}
		err := q.RecordIdempotencyOutcomes(ctx, tx, params)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation && pgErr.TableName == "idempotency_keys" {
			// A duplicate committed the key after LockIdempotencyKeys'
			// snapshot: this transaction is undone and runs again, and
			// replays it.
			return fmt.Errorf("record idempotency outcomes: %w: %w", errKeyRaced, err)
		}
		if err != nil {
			return fmt.Errorf("record idempotency outcomes: %w", err)
		}
		return nil
	}
	if len(params.Keys) > 0 {
		err := q.StoreIdempotencyOutcomes(ctx, tx, dbsqlc.StoreIdempotencyOutcomesParams{
			Keys: params.Keys, Outcomes: params.Outcomes, ReservationIds: params.ReservationIds,
		})
		if err != nil {
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
