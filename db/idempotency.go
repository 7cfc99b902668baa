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

// errKeyRaced means the INSERT that writes a key met it committed by a
// request this transaction did not see: after its snapshot, or, under
// SERIALIZABLE, not looked for (see queries/idempotency.sql). The unit
// runs again, with a new snapshot and looking for its keys everywhere,
// and replays that request's outcome.
var errKeyRaced = errors.New("idempotency key committed after this transaction's snapshot")

// claim is what LockIdempotencyKeys (and GetIdempotencyOutcomes) said of
// one request's key.
type claim struct {
	run    bool                             // the key is this transaction's (or there is none): do the work
	stored dbsqlc.GetIdempotencyOutcomesRow // otherwise, the outcome to replay...
	err    error                            // ...or why not: errKeyBusy, evento.ErrKeyReused
}

// keyProtocol is how a transaction looks for its keys before the work
// (queries/idempotency.sql). probeBookings: also among the keys on
// reservations. Always under READ COMMITTED. Under SERIALIZABLE only on
// the attempts after one that met its key in use (raced: errKeyRaced, or
// errKeyBusy, after waiting for that request), reruns after a
// serialization failure included: there a read of an absent
// key predicate-locks its page of reservations_idempotency_key_idx, and
// concurrent bookings inserting their keys on that page would fail each
// other. Unprobed, a key a booking used already is met by the INSERT that
// writes it again (errKeyRaced), or, when the request is refused before
// any INSERT, looked for then (recheckRefusals); the rerun probes and
// replays.
type keyProtocol struct{ probeBookings bool }

func keyProtocolFor(options *pgx.TxOptions, raced bool) keyProtocol {
	serializable := options != nil && options.IsoLevel == pgx.Serializable
	return keyProtocol{probeBookings: raced || !serializable}
}

// claimKeys claims the keys of a unit's requests in one statement, and
// reads the outcomes to replay in a second one only when some key was used
// before. A key that appears twice is busy the second time: the first is
// being run by this very transaction. booking, when not nil, is the key of
// the unit's one booking, which the claim arms so that the booking's
// reservation records it (LockIdempotencyKeys).
func (p keyProtocol) claimKeys(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []*evento.IdempotencyKey, booking *evento.IdempotencyKey) ([]claim, error) {
	claims := make([]claim, len(keys))
	var distinct []string
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
			distinct = append(distinct, k.Key)
		}
	}
	if len(distinct) == 0 {
		return claims, nil
	}
	locked, err := p.lock(ctx, q, tx, distinct, booking)
	if err != nil {
		return nil, err
	}
	var usedBefore []string
	for _, row := range locked {
		i := first[row.Key]
		claims[i].err = nil
		if row.Used {
			usedBefore = append(usedBefore, row.Key)
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
	found := map[string]bool{}
	for _, row := range stored {
		i := first[row.Key]
		switch {
		case found[row.Key] && row.Fingerprint != keys[i].Fingerprint:
			// Two requests committed one key (queries/idempotency.sql,
			// "Not prevented"): the one this request was made for wins.
		case row.Outcome == nil && !row.ReservationID.Valid:
			// Cannot happen while outcomes are written before COMMIT and
			// the lock is held; if it does, this request alone retries.
			claims[i].err = errKeyBusy
		case row.Fingerprint != keys[i].Fingerprint:
			claims[i].err = evento.ErrKeyReused
		default:
			claims[i].stored, claims[i].err = row, nil
		}
		found[row.Key] = true
	}
	if len(found) != len(usedBefore) {
		return nil, errKeyRaced
	}
	var replayed []string
	for _, key := range usedBefore {
		if c := claims[first[key]]; c.err == nil {
			replayed = append(replayed, key)
		}
	}
	if len(replayed) > 0 {
		// Replayed only if this transaction commits, and under synchronous
		// replication it then commits only once the standby has what it
		// replays (queries/idempotency.sql, AwaitReplicaOfReplay).
		if err := q.AwaitReplicaOfReplay(ctx, tx, replayed); err != nil {
			return nil, fmt.Errorf("lock the replayed keys: %w", err)
		}
	}
	return claims, nil
}

// lock takes the keys' locks that it can get and says of each locked key,
// once each, whether it was used before (otherwise it is this
// transaction's now).
func (p keyProtocol) lock(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []string, booking *evento.IdempotencyKey) ([]dbsqlc.LockIdempotencyKeysRow, error) {
	params := dbsqlc.LockIdempotencyKeysParams{Keys: keys, ProbeBookings: p.probeBookings}
	if booking != nil {
		params.BookingKey, params.BookingFingerprint = booking.Key, booking.Fingerprint
		params.BookingKeepSeconds = keepSeconds(*booking)
	}
	rows, err := q.LockIdempotencyKeys(ctx, tx, params)
	if err != nil {
		return nil, fmt.Errorf("lock idempotency keys: %w", err)
	}
	var expired []string
	for _, row := range rows {
		if row.Expired {
			expired = append(expired, row.Key)
		}
	}
	if len(expired) > 0 {
		if err := q.ForgetExpiredIdempotencyKeys(ctx, tx, expired); err != nil {
			return nil, fmt.Errorf("forget expired idempotency keys: %w", err)
		}
	}
	return rows, nil
}

// recheckRefusals answers again the keyed requests among todo that were
// refused while their keys were not looked for among bookings (p, under
// SERIALIZABLE): a refusal writes no key, so no INSERT meets a booking's
// key, and a resend of a booking made already would be told sold out
// instead of replayed. Probed now, in the same transaction, a key used
// before replays (or is refused as reused); an unused one keeps its
// refusal. Only refusals pay this read, and they wrote nothing.
func recheckRefusals[T any](ctx context.Context, p keyProtocol, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []*evento.IdempotencyKey, todo []int, results []result[T]) error {
	if p.probeBookings {
		return nil
	}
	var refused []int
	var refusedKeys []*evento.IdempotencyKey
	for _, i := range todo {
		if keys[i] != nil && !results[i].outcome.Kept() {
			refused = append(refused, i)
			refusedKeys = append(refusedKeys, keys[i])
		}
	}
	if len(refused) == 0 {
		return nil
	}
	claims, err := keyProtocol{probeBookings: true}.claimKeys(ctx, q, tx, refusedKeys, nil)
	if err != nil {
		return err
	}
	for j, i := range refused {
		if claims[j].run {
			continue
		}
		if results[i], err = answer[T](claims[j]); err != nil {
			return err
		}
	}
	return nil
}

// answer is the result of a request whose key was used before: its
// replayed outcome, or why not.
func answer[T any](c claim) (result[T], error) {
	if c.err != nil {
		return result[T]{err: c.err}, nil
	}
	outcome, err := replay[T](c.stored)
	if err != nil {
		return result[T]{}, err
	}
	outcome.Replayed = true
	return result[T]{outcome: outcome}, nil
}

// keepSeconds is how long k's outcome is kept, in the whole seconds the
// statements that record a key take.
func keepSeconds(k evento.IdempotencyKey) int32 { return int32(k.Keep / time.Second) }

func keyOf(k *evento.IdempotencyKey) string {
	if k == nil {
		return ""
	}
	return k.Key
}

// storeOutcomes writes the kept outcomes (evento.Outcome.Kept) of the keyed
// requests among todo under their keys, before COMMIT: a key holds only
// what was done, never a refusal. A booking's key is on its reservation
// already (the strategy's INSERT wrote it); any other outcome's row is
// inserted now, as codec.go's encodeOutcome writes it, which replay turns
// back; a refusal leaves none.
func storeOutcomes[T any](ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []*evento.IdempotencyKey, todo []int, outcomes []evento.Outcome[T]) error {
	if isBooking[T]() {
		return nil
	}
	var params dbsqlc.RecordIdempotencyOutcomesParams
	for j, i := range todo {
		if keys[i] == nil || !outcomes[j].Kept() {
			continue
		}
		encoded, err := encodeOutcome(outcomes[j])
		if err != nil {
			return err
		}
		params.Keys = append(params.Keys, keys[i].Key)
		params.Outcomes = append(params.Outcomes, encoded)
		params.Fingerprints = append(params.Fingerprints, keys[i].Fingerprint)
		params.TtlSeconds = max(params.TtlSeconds, keepSeconds(*keys[i]))
	}
	if len(params.Keys) == 0 {
		return nil
	}
	if err := q.RecordIdempotencyOutcomes(ctx, tx, params); err != nil {
		return fmt.Errorf("record idempotency outcomes: %w", keyRace(err))
	}
	return nil
}

// keyIndexes are the unique indexes that hold committed keys: a
// unique_violation on one is a duplicate that committed the key after
// LockIdempotencyKeys' snapshot, or, under SERIALIZABLE, a booking's key
// it did not look for (queries/idempotency.sql).
var keyIndexes = map[string]bool{"idempotency_keys_pkey": true, "reservations_idempotency_key_idx": true}

// keyRace says errKeyRaced, beside err, when err is a key written again
// (see keyIndexes): the transaction is undone and runs again, and replays.
func keyRace(err error) error {
	if keyTaken(err) {
		return fmt.Errorf("%w: %w", errKeyRaced, err)
	}
	return err
}

// keyTaken says whether err is a unique_violation of a key index.
func keyTaken(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation && keyIndexes[pgErr.ConstraintName]
}

// isBooking says whether T is a booking's outcome, whose key a
// reservation records (sql/00010_reservation_keys.sql): nothing is left to
// write under its key after the work.
func isBooking[T any]() bool {
	_, ok := any(*new(T)).(evento.Booking)
	return ok
}

// armedKey is the key LockIdempotencyKeys arms for the reservation's
// defaults: that of a unit of one keyed booking. A batch's statement
// writes its keys itself (queries/batched.sql).
func armedKey[T any](keys []*evento.IdempotencyKey) *evento.IdempotencyKey {
	if len(keys) != 1 || !isBooking[T]() {
		return nil
	}
	return keys[0]
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
