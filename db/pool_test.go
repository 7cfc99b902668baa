package db_test

import (
	"context"
	"testing"
	"time"

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
