package db

import (
	"context"
	"encoding/json"
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
// whileKeyBusy waits for it and tries again.
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
// others, before COMMIT: a key holds only outcomes that judged the rooms.
// A booking is stored as its reservation's id, which replay turns back
// into the booking; any other outcome as encodeOutcome writes it.
func storeOutcomes[T any](ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, keys []*evento.IdempotencyKey, todo []int, outcomes []evento.Outcome[T]) error {
	var params dbsqlc.StoreIdempotencyOutcomesParams
	var forget []string
	for j, i := range todo {
		switch {
		case keys[i] == nil:
		case !outcomes[j].Kept():
			forget = append(forget, keys[i].Key)
		default:
			var encoded []byte
			booking, isBooking := any(outcomes[j].Value).(evento.Booking)
			if !isBooking || outcomes[j].Refusal != nil {
				var err error
				if encoded, err = encodeOutcome(outcomes[j]); err != nil {
					return err
				}
			}
			params.Keys = append(params.Keys, keys[i].Key)
			params.Outcomes = append(params.Outcomes, encoded)
			params.ReservationIds = append(params.ReservationIds, booking.ReservationID)
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

// replay is the outcome a key stored: a booking, rebuilt from the
// reservation the key names, or the outcome encodeOutcome wrote.
func replay[T any](stored dbsqlc.GetIdempotencyOutcomesRow) (evento.Outcome[T], error) {
	if !stored.ReservationID.Valid {
		return decodeOutcome[T](stored.Outcome)
	}
	booking, ok := any(evento.Booking{
		ReservationID: stored.ReservationID.Int64,
		EventID:       stored.ReservationEventID.Int64,
		HotelID:       stored.ReservationHotelID.Int64,
		Name:          stored.ReservationName.String,
		Rooms:         stored.ReservationRooms.Int32,
	}).(T)
	if !ok || !stored.ReservationName.Valid {
		return evento.Outcome[T]{}, fmt.Errorf("replay idempotency key #%s: reservation %d is not this request's outcome",
			evento.ShortHash(stored.Key), stored.ReservationID.Int64)
	}
	return evento.Done(booking), nil
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

// storedOutcome is an evento.Outcome as an idempotency key keeps it
// (idempotency_keys.outcome): the value, or the refusal by its code and
// the facts its message needs.
type storedOutcome[T any] struct {
	Value   *T             `json:"value,omitempty"`
	Refusal *storedRefusal `json:"refusal,omitempty"`
}

type storedRefusal struct {
	Code      string `json:"code"`
	What      string `json:"what,omitempty"`
	Available int32  `json:"available,omitempty"`
	Requested int32  `json:"requested,omitempty"`
	// Held and HeldUntil make a shortfall a rooms_held refusal.
	Held      int32      `json:"held,omitempty"`
	HeldUntil *time.Time `json:"held_until,omitempty"`
	// Bucketed makes a shortfall an inventory_sharded refusal.
	Bucketed int32 `json:"bucketed,omitempty"`
}

// Shortfalls (rooms_held among them) and the hold refusals are stored
// (evento.Outcome.Kept); not_found is no longer stored, but still read from
// rows stored before, until they expire. A kept refusal without facts of
// its own (a hold refusal) is stored by its API code, evento.Error.Code:
// both are contracts, so rows stored before stay readable.

func encodeOutcome[T any](o evento.Outcome[T]) ([]byte, error) {
	stored := storedOutcome[T]{}
	if o.Refusal == nil {
		stored.Value = &o.Value
	} else {
		refusal, err := encodeRefusal(o.Refusal)
		if err != nil {
			return nil, err
		}
		stored.Refusal = &refusal
	}
	encoded, err := json.Marshal(stored)
	if err != nil {
		return nil, fmt.Errorf("encode outcome: %w", err)
	}
	return encoded, nil
}

func encodeRefusal(err error) (storedRefusal, error) {
	var shortfall *evento.ShortfallError
	var notFound *evento.NotFoundError
	switch {
	case errors.As(err, &shortfall):
		stored := storedRefusal{Code: "shortfall", Available: shortfall.Available, Requested: shortfall.Requested,
			Held: shortfall.Held, Bucketed: shortfall.Bucketed}
		if shortfall.Held > 0 {
			stored.HeldUntil = &shortfall.HeldUntil
		}
		return stored, nil
	case errors.As(err, &notFound):
		return storedRefusal{Code: evento.ErrNotFound.Code, What: notFound.What}, nil
	}
	for _, known := range evento.Errors() {
		if known.Kind == evento.KeptRefusal && errors.Is(err, known) {
			return storedRefusal{Code: known.Code}, nil
		}
	}
	return storedRefusal{}, fmt.Errorf("encode outcome: %w is not a final refusal", err)
}

func decodeOutcome[T any](encoded []byte) (evento.Outcome[T], error) {
	var stored storedOutcome[T]
	if err := json.Unmarshal(encoded, &stored); err != nil {
		return evento.Outcome[T]{}, fmt.Errorf("decode stored outcome: %w", err)
	}
	switch r := stored.Refusal; {
	case r == nil && stored.Value != nil:
		return evento.Done(*stored.Value), nil
	case r == nil:
		return evento.Outcome[T]{}, fmt.Errorf("decode stored outcome %s: neither value nor refusal", encoded)
	case r.Code == "shortfall":
		shortfall := &evento.ShortfallError{Available: r.Available, Requested: r.Requested, Held: r.Held, Bucketed: r.Bucketed}
		if r.HeldUntil != nil {
			shortfall.HeldUntil = *r.HeldUntil
		}
		return evento.Refused[T](shortfall), nil
	case r.Code == evento.ErrNotFound.Code:
		return evento.Refused[T](&evento.NotFoundError{What: r.What}), nil
	default:
		if known := evento.ErrorWithCode(r.Code); known != nil && known.Kind == evento.KeptRefusal {
			return evento.Refused[T](known), nil
		}
		return evento.Outcome[T]{}, fmt.Errorf("decode stored outcome: unknown refusal %q", r.Code)
	}
}
