package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// A server frozen in the middle of a transaction (stopped, paused by the
// OS, cut off) must not hold a hotel's row lock for everyone: the serving
// pool's bounds (PoolOptions.QueryTimeout) have PostgreSQL end its idle
// transaction a second past the query timeout, and another server's
// booking of the same hotel goes through. Without them it waits as long
// as the server stays frozen (here: until the test's deadline).
func TestAFrozenServerDoesNotHoldTheHotel(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url := dbtest.NewURL(t)
	frozen, err := db.OpenPoolWith(ctx, url, db.PoolOptions{MaxConns: 1, QueryTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(frozen.Close)
	other, err := db.OpenPool(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	hotel := seedHotel(t, other, 5)

	// What a pessimistic booking holds between its read and its write,
	// and then nothing more is said: the server froze.
	tx, err := frozen.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Before the pool's Close, which waits for this connection: when the
	// test fails, the transaction is still open.
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, `SELECT 1 FROM event_hotel_rooms WHERE event_id = $1 AND hotel_id = $2 FOR UPDATE`, hotel.EventID, hotel.HotelID); err != nil {
		t.Fatal(err)
	}

	bookCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := reserve(bookCtx, newStore(other), mustStrategy(t, "pessimistic"), hotel.request("next", 1)); err != nil {
		t.Fatalf("another server's booking, while one is frozen holding the hotel's row: %v", err)
	}
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("the frozen server's transaction outlived its bounds")
	}
}

// When the frozen server goes on, its next statement meets the session
// PostgreSQL ended for idling in its transaction (25P03, FATAL): a fault,
// answered 503 like any lost session, never a 500. `evento run --faults
// pause-server` met it as the one 500 of a run.
func TestAFrozenServersEndedSessionIsAFault(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	frozen, err := db.OpenPoolWith(ctx, dbtest.NewURL(t), db.PoolOptions{MaxConns: 1, QueryTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(frozen.Close)
	tx, err := frozen.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	// Past the idle-in-transaction bound (100ms + 1s), with room to spare.
	time.Sleep(3 * time.Second)
	_, err = tx.Exec(ctx, `SELECT 1`)
	if err == nil {
		t.Fatal("the frozen server's idle transaction outlived its bound")
	}
	if got := db.Classify(err); !errors.Is(got, evento.ErrUnavailable) {
		t.Errorf("a read in the ended session: %v, want unavailable", got)
	}
	if got := db.ClassifyWrite(db.Uncommitted(err)); !errors.Is(got, evento.ErrUnavailable) {
		t.Errorf("a write's statement before COMMIT in the ended session: %v, want unavailable", got)
	}
}

// Each statement of a serving pool is planned once per session, when it
// is prepared: a keyed booking's claim, whose generic plan PostgreSQL
// thinks dearer (it guesses ten keys), was otherwise planned afresh on
// every call, and so was every statement in its first five runs after
// pgx dropped it for a failed run (a serialization failure).
func TestServingPoolPlansEachStatementOnce(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool, err := db.OpenPoolWith(ctx, dbtest.NewURL(t), db.PoolOptions{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	hotel := seedHotel(t, pool, 50)
	store := newStore(pool)
	for i := range 8 {
		key := idemKey(fmt.Sprintf("plan-%d", i), "f")
		if _, err := valueOf(store.Reserve(ctx, "pessimistic", hotel.request("p", 1), key)); err != nil {
			t.Fatal(err)
		}
	}
	// The pool's one session prepared every statement it ran.
	var statement string
	var custom int64
	err = pool.QueryRow(ctx, `SELECT statement, custom_plans FROM pg_prepared_statements
		WHERE custom_plans > 0 ORDER BY custom_plans DESC LIMIT 1`).Scan(&statement, &custom)
	if err == nil {
		t.Fatalf("%d custom plans of %.60q; want every statement planned once, generic", custom, statement)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
}
