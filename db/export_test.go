package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// StoredBookingOutcome reads what key stores as a replay reads it, for
// db_test.
func StoredBookingOutcome(ctx context.Context, conn dbsqlc.DBTX, key string) (evento.Outcome[evento.Booking], string, error) {
	rows, err := dbsqlc.New().GetIdempotencyOutcomes(ctx, conn, []string{key})
	if err != nil || len(rows) != 1 {
		return evento.Outcome[evento.Booking]{}, "", fmt.Errorf("key %q: %d rows, %v", key, len(rows), err)
	}
	stored := fmt.Sprintf("reservation_id %v, outcome %s", rows[0].ReservationID, rows[0].Outcome)
	o, err := replay[evento.Booking](rows[0])
	return o, stored, err
}

// KeyedOutcome reads a fast-path statement's answer, for db_test.
func KeyedOutcome(id int64, err error, req evento.BookRequest) (evento.Booking, bool, error) {
	return keyedOutcome(id, err, req)
}

// The error classification, for db_test's tests of real sessions.
var (
	Classify      = classify
	Uncommitted   = uncommitted
	ClassifyWrite = classifyWrite
)

// CheckClientLimits is the write engine's limit step, for db_test's
// sessions to take the very locks a write takes.
var CheckClientLimits = checkClientLimits

// BookTogether books reqs (all for one hotel) with mode in one
// transaction, as one batch of a Batcher does, keyless.
func BookTogether(ctx context.Context, s *Store, mode string, reqs []evento.BookRequest) ([]evento.Outcome[evento.Booking], error) {
	strategy := s.byName[mode]
	policy := strategy.policy()
	if anyLimited(reqs...) {
		policy = policy.inTransaction()
	}
	results, err := transact(ctx, &s.engine, policy, false, make([]*evento.IdempotencyKey, len(reqs)), func(ctx context.Context, tx dbsqlc.DBTX, todo []int) ([]evento.Outcome[evento.Booking], error) {
		return book(ctx, s.q, tx, strategy, pick(reqs, todo), nil, nil)
	})
	if err != nil {
		return nil, err
	}
	outcomes := make([]evento.Outcome[evento.Booking], len(results))
	for i, r := range results {
		outcomes[i] = r.outcome
	}
	return outcomes, nil
}

// Admitted says whether the store gates the strategy's bookings per hotel
// (admission.go), for db_test.
func (s Strategy) Admitted() bool { return s.admitted() }

// RunBatch books reqs (all for one hotel) with their keys as one batch of
// mode's Batcher, as its drain does, and answers each request.
func RunBatch(s *Store, mode string, reqs []evento.BookRequest, keys []*evento.IdempotencyKey) ([]evento.Outcome[evento.Booking], []error) {
	batch := make([]*batchItem, len(reqs))
	for i := range reqs {
		batch[i] = &batchItem{req: reqs[i], key: keys[i], done: make(chan result[evento.Booking], 1), taken: true}
	}
	s.batchers[mode].run(batch)
	outcomes, errs := make([]evento.Outcome[evento.Booking], len(reqs)), make([]error, len(reqs))
	for i, item := range batch {
		r := <-item.done
		outcomes[i], errs[i] = r.outcome, r.err
	}
	return outcomes, errs
}

// ErrKeyBusy is a batch's answer to a request whose key another request
// holds, for db_test.
var ErrKeyBusy = errKeyBusy

// RunTransaction runs run as a write's READ COMMITTED transaction on a
// connection of pool (engine.go); with endsWithLast, a statement sent to
// LastOf(tx) carries the COMMIT (pipeline.go).
func RunTransaction(ctx context.Context, pool *pgxpool.Pool, endsWithLast bool, run func(tx dbsqlc.DBTX) error) error {
	return withConn(ctx, pool, func(conn *pgxpool.Conn) error {
		return runTransaction(ctx, conn, *readCommitted, endsWithLast, run)
	})
}

// LastOf is where a write's Last statement goes, for db_test.
var LastOf = lastOf

// IsUncommitted says whether a write's error says it committed nothing.
func IsUncommitted(err error) bool {
	var u *uncommittedError
	return errors.As(err, &u)
}

// PauseBeforeWrites makes the store call pause before each booking write
// (what --race-window delays), for db_test's step-by-step schedules.
func PauseBeforeWrites(s *Store, pause func(context.Context)) { s.beforeWrite = pause }

// ProbeKeysAlways makes every write of the store look for its keys among
// bookings, as a SERIALIZABLE write does only after a key race.
func ProbeKeysAlways(s *Store) { s.engine.probeAlways = true }
