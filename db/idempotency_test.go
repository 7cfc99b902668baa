package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// For every strategy: a replay books nothing and answers with the first
// outcome, a booking or a final refusal alike; a reused key is refused; an
// attempt that fails after booking keeps nothing and stores nothing, so
// the same key runs again.
func TestIdempotentReplayBooksOnce(t *testing.T) {
	t.Parallel()
	for _, strategy := range db.Strategies {
		t.Run(strategy.Name, func(t *testing.T) {
			t.Parallel()
			pool := dbtest.NewPool(t, 4)
			hotel := seedHotelFor(t, pool, strategy, 10)
			ctx := testContext(t)
			// flaky books with the strategy, then fails once with a
			// retryable conflict, as if a later step of the request broke:
			// after the booking, inside the general path's transaction.
			var failures atomic.Int32
			failures.Store(1)
			flaky := around(strategy, func() {}, func(err error) error {
				if err == nil && failures.Add(-1) >= 0 {
					return evento.ErrConflict
				}
				return err
			})
			flaky.Name = "flaky"
			flaky.Attempts = 1 // the failure reaches the client, not a rerun in the server
			store := db.NewStore(pool, db.Options{Strategies: []db.Strategy{strategy, flaky}})

			first, err := store.Reserve(ctx, strategy.Name, hotel.request("alice", 3), idemKey("k-1", "reserve 3"))
			if err != nil || first.Replayed || first.Refusal != nil || first.Value.Rooms != 3 {
				t.Fatalf("first: %+v %v", first, err)
			}
			second, err := store.Reserve(ctx, strategy.Name, hotel.request("alice", 3), idemKey("k-1", "reserve 3"))
			if err != nil || !second.Replayed || second.Value != first.Value {
				t.Fatalf("replay: %+v %v; want %+v replayed", second, err, first.Value)
			}
			if _, err := store.Reserve(ctx, strategy.Name, hotel.request("alice", 4), idemKey("k-1", "reserve 4")); !errors.Is(err, evento.ErrKeyReused) {
				t.Fatalf("same key, other request: %v", err)
			}

			refused, err := store.Reserve(ctx, strategy.Name, hotel.request("bob", 9), idemKey("k-2", "reserve 9"))
			var shortfall *evento.ShortfallError
			if err != nil || refused.Replayed || !errors.As(refused.Refusal, &shortfall) || shortfall.Available != 7 {
				t.Fatalf("9 of 7 left: %+v %v; want insufficient rooms with 7 available", refused, err)
			}
			again, err := store.Reserve(ctx, strategy.Name, hotel.request("bob", 9), idemKey("k-2", "reserve 9"))
			if err != nil || again.Replayed || again.Refusal == nil || again.Refusal.Error() != refused.Refusal.Error() {
				t.Fatalf("refusal resent: %+v %v; want %v afresh (a refusal is not kept)", again, err, refused.Refusal)
			}
			if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 3 || len(totals.reservationIDs) != 1 {
				t.Fatalf("booked %d in %d rows; want one booking of 3", totals.booked, len(totals.reservationIDs))
			}

			if _, err := store.Reserve(ctx, "flaky", hotel.request("carol", 2), idemKey("k-3", "reserve 2")); !errors.Is(err, evento.ErrConflict) {
				t.Fatalf("failing attempt: %v", err)
			}
			if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 3 {
				t.Fatalf("a failed attempt kept its booking: %d booked", totals.booked)
			}
			retried, err := store.Reserve(ctx, "flaky", hotel.request("carol", 2), idemKey("k-3", "reserve 2"))
			if err != nil || retried.Replayed || retried.Value.Rooms != 2 {
				t.Fatalf("retry after failure: %+v %v; want a fresh booking", retried, err)
			}
			if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 5 {
				t.Fatalf("booked %d; want 3 + 2", totals.booked)
			}
		})
	}
}

// The one duplicate behaviour, for every strategy: a request whose key is
// held by a request still running (on another server) waits for it, then
// replays its outcome; if the first is still running after 2 s, the
// duplicate is told request_in_progress and books nothing.
func TestDuplicateWaitsThenReplays(t *testing.T) {
	t.Parallel()
	for _, strategy := range db.Strategies {
		for _, firstTakes := range []time.Duration{0, 3 * time.Second} {
			t.Run(strategy.Name+"/first takes "+firstTakes.String(), func(t *testing.T) {
				t.Parallel()
				pool := dbtest.NewPool(t, 6)
				hotel := seedHotelFor(t, pool, strategy, 10)
				first, second, release := duplicateWaiting(t, pool, strategy, newStore(pool), hotel.request("alice", 1), idemKey("dup", "f"))
				time.Sleep(firstTakes)
				var dup result
				if firstTakes > 0 {
					dup = <-second // it gives up while the first still runs
				}
				close(release)
				a := <-first
				if a.err != nil || a.outcome.Replayed || a.outcome.Refusal != nil {
					t.Fatalf("first: %+v", a)
				}
				if firstTakes == 0 {
					dup = <-second
					if dup.err != nil || !dup.outcome.Replayed || dup.outcome.Value != a.outcome.Value {
						t.Fatalf("duplicate: %+v, want %+v replayed", dup, a.outcome.Value)
					}
				} else if !errors.Is(dup.err, evento.ErrRequestInProgress) {
					t.Fatalf("duplicate of a slow request: %+v, want request in progress", dup)
				}
				if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 1 {
					t.Fatalf("booked %d; want one booking", totals.booked)
				}
			})
		}
	}
}

// duplicateWaiting starts a booking of req with key that stays in
// progress, holding its key, until release is closed, and then, once the
// key is claimed, its duplicate through dup; it returns once the
// duplicate waits for the key.
func duplicateWaiting(t *testing.T, pool *pgxpool.Pool, strategy db.Strategy, dup *db.Store, req evento.BookRequest, key *evento.IdempotencyKey) (first, second <-chan result, release chan<- struct{}) {
	t.Helper()
	ctx := testContext(t)
	held := make(chan struct{})
	slow := db.NewStore(pool, db.Options{Strategies: []db.Strategy{heldBack(strategy, held)}})
	first = reserveAsync(ctx, slow, strategy.Name, req, key)
	waitForKeyClaimed(t, pool)
	second = reserveAsync(ctx, dup, strategy.Name, req, key)
	waitForLockWaiters(t, pool, 1)
	return first, second, held
}

// heldBack is strategy, but each booking waits for release first: a
// request that stays in progress, holding its key, for as long as the test
// wants.
func heldBack(strategy db.Strategy, release <-chan struct{}) db.Strategy {
	return around(strategy, func() { <-release }, func(err error) error { return err })
}

// around is strategy on its general path, each booking preceded by before
// and its error passed through after. The fast paths (BookKeyed,
// BookBatchKeyed) are left out: they claim the keys and book in one
// statement, so nothing can run between the two. So is Statements.Last:
// after may fail the booking, and nothing may fail after a write that
// carried the COMMIT.
func around(strategy db.Strategy, before func(), after func(error) error) db.Strategy {
	strategy.BookKeyed, strategy.BookBatchKeyed = nil, nil
	if book := strategy.Book; book != nil {
		strategy.Book = func(ctx context.Context, st db.Statements, req evento.BookRequest) (evento.Booking, error) {
			before()
			st.Last = nil
			b, err := book(ctx, st, req)
			return b, after(err)
		}
	}
	if book := strategy.BookBatch; book != nil {
		strategy.BookBatch = func(ctx context.Context, st db.Statements, reqs []evento.BookRequest, keys []*evento.IdempotencyKey) ([]evento.Outcome[evento.Booking], error) {
			before()
			outcomes, err := book(ctx, st, reqs, keys)
			return outcomes, after(err)
		}
	}
	return strategy
}

// keysClaimed counts the idempotency keys' advisory locks held (the
// two-integer form, objsubid 2, in namespace "EVKY").
const keysClaimed = `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2
	AND classid = x'45564b59'::integer::oid AND granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// waitForKeyClaimed returns once a transaction holds an idempotency key's
// advisory lock.
func waitForKeyClaimed(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	waitFor(t, pool, 1, "a key was never claimed", keysClaimed)
}

// lockWaiters counts the sessions of the test's database that wait for a
// lock.
const lockWaiters = `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`

// waitForLockWaiters returns once n sessions wait on a lock.
func waitForLockWaiters(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	waitFor(t, pool, n, "too few sessions ever waited on a lock", lockWaiters)
}

// A key past its retention that no sweeper has removed yet is a new key:
// it is claimed afresh rather than replayed or refused as reused.
func TestExpiredKeyIsClaimedAfresh(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 10)
	pool, hotel, ctx := bundle.pool, bundle.hotel, bundle.ctx
	run := func(fingerprint string) (evento.Outcome[evento.Booking], error) {
		return store.Reserve(ctx, "atomic", hotel.request("k", 1), idemKey("old", fingerprint))
	}
	if _, err := run("first"); err != nil {
		t.Fatal(err)
	}
	expireKey(t, pool, "old")
	outcome, err := run("second")
	if err != nil || outcome.Replayed || outcome.Refusal != nil {
		t.Fatalf("expired key: %+v %v; want a fresh run", outcome, err)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 {
		t.Fatalf("booked %d; want one booking per life of the key", totals.booked)
	}
}

// countKeys is how many idempotency keys the database keeps, in
// idempotency_keys and on reservations.
func countKeys(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	return queryInt(t, pool, `SELECT (SELECT count(*) FROM idempotency_keys)
	                               + (SELECT count(*) FROM reservations WHERE idempotency_key IS NOT NULL)`)
}

// For every strategy: a key is kept only for what was done. Distinct keys
// on an unknown hotel, and then on the sold-out hotel, sent all at once
// (so the batched strategy batches them), leave no key row behind: a flood
// of them costs no storage for 24 h. A key squatted by a request that
// found nothing does not block its owner's real booking later. A sold_out
// is answered afresh to a resend, never replayed.
func TestKeysKeptOnlyForWhatWasDone(t *testing.T) {
	t.Parallel()
	for _, strategy := range db.Strategies {
		t.Run(strategy.Name, func(t *testing.T) {
			t.Parallel()
			store, bundle := setupFor(t, strategy, 6, 4)
			pool, hotel, ctx := bundle.pool, bundle.hotel, bundle.ctx
			nowhere := testHotel{EventID: hotel.EventID, HotelID: hotel.HotelID + 1000}

			const flood = 40
			floodOf := func(at testHotel, prefix string, want error) {
				t.Helper()
				errs := make(chan error, flood)
				for i := range flood {
					go func() {
						outcome, err := store.Reserve(ctx, strategy.Name, at.request("mallory", 1), idemKey(fmt.Sprintf("%s-%d", prefix, i), "f"))
						if err == nil && (!errors.Is(outcome.Refusal, want) || outcome.Replayed) {
							err = fmt.Errorf("key %s-%d: %+v, want a fresh %v", prefix, i, outcome, want)
						}
						errs <- err
					}()
				}
				for range flood {
					if err := <-errs; err != nil {
						t.Fatal(err)
					}
				}
			}
			floodOf(nowhere, "nowhere", evento.ErrNotFound)
			if n := countKeys(t, pool); n != 0 {
				t.Fatalf("%d keys kept after %d requests that found no hotel; want 0", n, flood)
			}

			squat, err := store.Reserve(ctx, strategy.Name, nowhere.request("mallory", 1), idemKey("order-18", "squatter"))
			if err != nil || !errors.Is(squat.Refusal, evento.ErrNotFound) {
				t.Fatalf("squatter: %+v %v; want not found", squat, err)
			}
			real, err := store.Reserve(ctx, strategy.Name, hotel.request("victim", 4), idemKey("order-18", "victim"))
			if err != nil || real.Replayed || real.Refusal != nil || real.Value.Rooms != 4 {
				t.Fatalf("owner after a squatter: %+v %v; want a fresh booking of 4", real, err)
			}

			soldOut, err := store.Reserve(ctx, strategy.Name, hotel.request("late", 1), idemKey("late", "late"))
			if err != nil || soldOut.Replayed || !errors.Is(soldOut.Refusal, evento.ErrSoldOut) {
				t.Fatalf("on a full hotel: %+v %v; want sold out", soldOut, err)
			}
			again, err := store.Reserve(ctx, strategy.Name, hotel.request("late", 1), idemKey("late", "late"))
			if err != nil || again.Replayed || !errors.Is(again.Refusal, evento.ErrSoldOut) {
				t.Fatalf("sold out again: %+v %v; want a fresh sold out", again, err)
			}
			floodOf(hotel, "soldout", evento.ErrSoldOut)
			if n := countKeys(t, pool); n != 1 {
				t.Fatalf("%d keys kept after %d sold-out requests; want the booking's alone", n, flood+2)
			}
			if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 4 || totals.reserved != 4 {
				t.Fatalf("booked %d (counter %d); want the owner's 4 alone", totals.booked, totals.reserved)
			}
		})
	}
}

// A hold or a confirm that found nothing keeps no key either, and the
// owner of the key can still use it.
func TestHoldKeysKeptOnlyForOutcomesThatJudgedRooms(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 10)
	pool, hotel, ctx := bundle.pool, bundle.hotel, bundle.ctx
	nowhere := evento.HoldRequest{BookRequest: testHotel{EventID: hotel.EventID + 1000, HotelID: hotel.HotelID}.request("m", 1), TTL: time.Minute}
	if o, err := store.PlaceHold(ctx, nowhere, idemKey("h-1", "squatter")); err != nil || !errors.Is(o.Refusal, evento.ErrNotFound) {
		t.Fatalf("hold at an unknown event: %+v %v", o, err)
	}
	missing := evento.HoldRef{EventID: hotel.EventID, HotelID: hotel.HotelID, Handle: "hold_AAAAAAAAAAAAAAAAAAAAAA"}
	if o, err := store.ConfirmHold(ctx, missing, idemKey("c-1", "squatter")); err != nil || !errors.Is(o.Refusal, evento.ErrNotFound) {
		t.Fatalf("confirm an unknown hold: %+v %v", o, err)
	}
	if n := countKeys(t, pool); n != 0 {
		t.Fatalf("%d keys kept after two requests that found nothing; want 0", n)
	}
	hold, err := store.PlaceHold(ctx, evento.HoldRequest{BookRequest: hotel.request("owner", 2), TTL: time.Minute}, idemKey("h-1", "owner"))
	if err != nil || hold.Replayed || hold.Refusal != nil {
		t.Fatalf("owner's hold after a squatter: %+v %v", hold, err)
	}
	ref := evento.HoldRef{EventID: hotel.EventID, HotelID: hotel.HotelID, Handle: hold.Value.Handle}
	confirmed, err := store.ConfirmHold(ctx, ref, idemKey("c-1", "owner"))
	if err != nil || confirmed.Replayed || confirmed.Refusal != nil || confirmed.Value.Rooms != 2 {
		t.Fatalf("owner's confirm after a squatter: %+v %v", confirmed, err)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 {
		t.Fatalf("booked %d; want the owner's 2", totals.booked)
	}
}

// For every strategy: a duplicate that waited for a request that found
// nothing finds no outcome to replay, does the work itself and gets the
// same not found; no key is left behind.
func TestDuplicateOfANotFoundRunsItself(t *testing.T) {
	t.Parallel()
	for _, strategy := range db.Strategies {
		t.Run(strategy.Name, func(t *testing.T) {
			t.Parallel()
			pool := dbtest.NewPool(t, 6)
			hotel := seedHotelFor(t, pool, strategy, 10)
			nowhere := testHotel{EventID: hotel.EventID, HotelID: hotel.HotelID + 1000}
			first, second, release := duplicateWaiting(t, pool, strategy, newStore(pool), nowhere.request("alice", 1), idemKey("dup", "f"))
			close(release)
			for _, r := range []result{<-first, <-second} {
				if r.err != nil || r.outcome.Replayed || !errors.Is(r.outcome.Refusal, evento.ErrNotFound) {
					t.Fatalf("%+v; want a fresh not found, not a replay", r)
				}
			}
			if n := countKeys(t, pool); n != 0 {
				t.Fatalf("%d keys kept; want 0", n)
			}
		})
	}
}
