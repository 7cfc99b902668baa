package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// TestHACancelledSyncWaitIsOutcomeUnknown: on a strict pair with its
// standby frozen, a keyed booking's commit waits for the standby, and an
// operator cancels that wait (pg_cancel_backend). PostgreSQL then ends
// the COMMIT, or the autocommit statement, successfully, with only a
// WARNING: the booking is on the primary alone. The answer must be 504
// (outcome unknown), never the booking, for a strategy that commits one
// statement (atomic) and for one that sends COMMIT (pessimistic).
func TestHACancelledSyncWaitIsOutcomeUnknown(t *testing.T) {
	dbtest.NeedHA(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const app = "evento-cancelled-wait"
	h, primary, pool := strictPairPrimary(ctx, t, db.PoolOptions{MaxConns: 4, ApplicationName: app})
	hotel := seedHotel(t, pool, 10)
	store := db.NewStore(pool, db.Options{})
	operator, err := pgx.Connect(ctx, h.MemberURL(primary))
	if err != nil {
		t.Fatal(err)
	}
	defer operator.Close(ctx)

	_, resume, err := h.FreezeStandby(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer resume()
	for _, strategy := range []string{"atomic", "pessimistic"} {
		key := &evento.IdempotencyKey{Key: "cancelled-" + strategy, Fingerprint: "f", Keep: time.Hour}
		type answer struct {
			out evento.Outcome[evento.Booking]
			err error
		}
		answered := make(chan answer, 1)
		go func() {
			// Longer than the test waits: only the operator ends the wait.
			ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			out, err := store.Reserve(ctx, strategy, hotel.request(strategy, 1), key)
			answered <- answer{out, err}
		}()
		for {
			var cancelled bool
			err := operator.QueryRow(ctx, `SELECT coalesce(bool_or(pg_cancel_backend(pid)), false) FROM pg_stat_activity
				WHERE application_name = $1 AND wait_event = 'SyncRep'`, app).Scan(&cancelled)
			if err != nil {
				t.Fatal(err)
			}
			if cancelled {
				break
			}
			select {
			case a := <-answered:
				t.Fatalf("%s: answered %+v, %v before its commit waited for the frozen standby", strategy, a.out, a.err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		a := <-answered
		t.Logf("%s: a booking whose replication wait was cancelled: %+v, %v", strategy, a.out, a.err)
		if !errors.Is(a.err, evento.ErrOutcomeUnknown) {
			t.Errorf("%s: a booking whose replication wait was cancelled got %+v, %v; want outcome unknown (504): the standby lacks it", strategy, a.out, a.err)
		}
		var stored bool
		if err := operator.QueryRow(ctx, `SELECT EXISTS (SELECT FROM reservations WHERE idempotency_key = $1)`, key.Key).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if !stored {
			t.Errorf("%s: the booking is not on the primary; the trap needs it committed locally", strategy)
		}
	}
}
