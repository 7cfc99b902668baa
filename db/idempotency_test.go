package db_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

func TestIdempotentReplayBooksOnce(t *testing.T) {
	pool := dbtest.NewPool(t, 4)
	store := &db.Store{Pool: pool}
	hotel := seedHotel(t, pool, 10)
	ctx := testContext(t)
	atomicStrategy := mustStrategy(t, "atomic")
	key := db.IdempotencyKey{Key: "k-1", Fingerprint: "reserve 3", Keep: time.Hour}
	book := func(ctx context.Context, b db.Booker) (db.StoredResponse, error) {
		booking, err := b.Reserve(ctx, atomicStrategy, hotel.request("alice", 3))
		if err != nil {
			return db.StoredResponse{}, err
		}
		return db.StoredResponse{Status: 201, Body: []byte(`{"reservation_id":` + itoa(booking.ReservationID) + `}`)}, nil
	}

	first, replayed, err := store.Idempotently(ctx, key, db.ReadCommittedPolicy, book)
	if err != nil || replayed || first.Status != 201 {
		t.Fatalf("first: %+v %v %v", first, replayed, err)
	}
	second, replayed, err := store.Idempotently(ctx, key, db.ReadCommittedPolicy, book)
	if err != nil || !replayed || second.Status != 201 || string(second.Body) != string(first.Body) {
		t.Fatalf("replay: %+v %v %v; want %s replayed", second, replayed, err, first.Body)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 3 || len(totals.reservationIDs) != 1 {
		t.Fatalf("booked %d in %d rows; want one booking of 3", totals.booked, len(totals.reservationIDs))
	}

	other := key
	other.Fingerprint = "reserve 4"
	if _, _, err := store.Idempotently(ctx, other, db.ReadCommittedPolicy, book); !errors.Is(err, db.ErrKeyReused) {
		t.Fatalf("same key, other request: %v", err)
	}

	// A failed attempt stores nothing and keeps nothing: the same key runs
	// again and can succeed.
	failing := db.IdempotencyKey{Key: "k-2", Fingerprint: "f", Keep: time.Hour}
	_, _, err = store.Idempotently(ctx, failing, db.ReadCommittedPolicy, func(ctx context.Context, b db.Booker) (db.StoredResponse, error) {
		if _, err := b.Reserve(ctx, atomicStrategy, hotel.request("bob", 2)); err != nil {
			return db.StoredResponse{}, err
		}
		return db.StoredResponse{}, db.ErrConflict // e.g. a retryable failure after booking
	})
	if !errors.Is(err, db.ErrConflict) {
		t.Fatalf("failing attempt: %v", err)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 3 {
		t.Fatalf("a failed attempt kept its booking: %d booked", totals.booked)
	}
	if _, replayed, err := store.Idempotently(ctx, failing, db.ReadCommittedPolicy, book); err != nil || replayed {
		t.Fatalf("retry after failure: replayed %v, %v", replayed, err)
	}
}

// Two identical requests at once: the second waits on the first's claim of
// the key and then replays its answer (one booking); if the first takes
// longer than the bounded wait, the second is told it is in progress.
func TestConcurrentDuplicatesBookOnce(t *testing.T) {
	pool := dbtest.NewPool(t, 6)
	store := &db.Store{Pool: pool}
	hotel := seedHotel(t, pool, 10)
	ctx := testContext(t)
	atomicStrategy := mustStrategy(t, "atomic")

	for _, firstTakes := range []time.Duration{0, 3 * time.Second} {
		key := db.IdempotencyKey{Key: "dup-" + firstTakes.String(), Fingerprint: "f", Keep: time.Hour}
		booked := make(chan struct{})
		finish := make(chan struct{})
		var wg sync.WaitGroup
		var firstErr error
		wg.Go(func() {
			_, _, firstErr = store.Idempotently(ctx, key, db.ReadCommittedPolicy, func(ctx context.Context, b db.Booker) (db.StoredResponse, error) {
				if _, err := b.Reserve(ctx, atomicStrategy, hotel.request("alice", 1)); err != nil {
					return db.StoredResponse{}, err
				}
				close(booked)
				<-finish
				return db.StoredResponse{Status: 201, Body: []byte("first")}, nil
			})
		})
		<-booked
		type result struct {
			resp     db.StoredResponse
			replayed bool
			err      error
		}
		second := make(chan result, 1)
		go func() {
			resp, replayed, err := store.Idempotently(ctx, key, db.ReadCommittedPolicy, func(context.Context, db.Booker) (db.StoredResponse, error) {
				t.Error("the duplicate ran its booking")
				return db.StoredResponse{}, nil
			})
			second <- result{resp, replayed, err}
		}()
		waitForLockWaiters(t, pool, 1)
		time.Sleep(firstTakes)
		close(finish)
		wg.Wait()
		if firstErr != nil {
			t.Fatal(firstErr)
		}
		got := <-second
		if firstTakes == 0 && (got.err != nil || !got.replayed || string(got.resp.Body) != "first") {
			t.Fatalf("duplicate: %+v, want the first's answer replayed", got)
		}
		if firstTakes > 0 && !errors.Is(got.err, db.ErrRequestInProgress) {
			t.Fatalf("duplicate of a slow request: %v, want request in progress", got.err)
		}
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 {
		t.Fatalf("booked %d; want one booking per key", totals.booked)
	}
}

// waitForLockWaiters returns once n sessions wait on a lock.
func waitForLockWaiters(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var waiting int
		err := pool.QueryRow(testContext(t),
			`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
		).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d sessions ever waited on a lock", n)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A key past its retention that no sweeper has removed yet is a new key:
// it is claimed afresh rather than replayed or refused as reused.
func TestExpiredKeyIsClaimedAfresh(t *testing.T) {
	pool := dbtest.NewPool(t, 4)
	store := &db.Store{Pool: pool}
	hotel := seedHotel(t, pool, 10)
	ctx := testContext(t)
	atomicStrategy := mustStrategy(t, "atomic")
	run := func(fingerprint string) (db.StoredResponse, bool, error) {
		key := db.IdempotencyKey{Key: "old", Fingerprint: fingerprint, Keep: time.Hour}
		return store.Idempotently(ctx, key, db.ReadCommittedPolicy, func(ctx context.Context, b db.Booker) (db.StoredResponse, error) {
			if _, err := b.Reserve(ctx, atomicStrategy, hotel.request("k", 1)); err != nil {
				return db.StoredResponse{}, err
			}
			return db.StoredResponse{Status: 201, Body: []byte(fingerprint)}, nil
		})
	}
	if _, _, err := run("first"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = clock_timestamp() - interval '1 second' WHERE key = 'old'`); err != nil {
		t.Fatal(err)
	}
	resp, replayed, err := run("second")
	if err != nil || replayed || string(resp.Body) != "second" {
		t.Fatalf("expired key: %+v replayed %v err %v; want a fresh run", resp, replayed, err)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 {
		t.Fatalf("booked %d; want one booking per life of the key", totals.booked)
	}
}
