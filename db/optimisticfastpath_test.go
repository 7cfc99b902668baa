package db_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/evento-lab/evento"
)

// The fast path of a keyed optimistic booking (Strategy.BookKeyed): the
// unlocked read, then OptimisticBookKeyed (queries/optimistic.sql), which
// claims the key and swaps in one autocommit statement, or commits nothing
// and leaves the request to the general path. Run one after another, as
// fastpath_test.go's tests are.

// optimisticFast is what the fast path sends: no BEGIN, no claim of its
// own, no COMMIT.
var optimisticFast = []string{"GetHotelRooms", "OptimisticBookKeyed"}

// tookOptimisticGeneralPath fails the test unless sent is the fast path,
// which committed nothing, then the general path's transaction.
func tookOptimisticGeneralPath(t *testing.T, sent []string) {
	t.Helper()
	if len(sent) < 3 || !slices.Equal(sent[:2], optimisticFast) || sent[2] != "begin" {
		t.Fatalf("sent %v; want %v (the fast path), then the general path's transaction", sent, optimisticFast)
	}
}

// A keyed booking sends the read and one statement, as an unkeyed one
// does; its key is on its reservation, and a resend replays it.
func TestOptimisticKeyedBooksWithoutATransaction(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	req, key := b.hotel.request("ok-1", 2), idemKey("ok-1", "reserve ok-1")
	first, err := b.store.Reserve(ctx, "optimistic", req, key)
	mustBeBooked(t, first, err, req)
	if sent := b.log.take(); !slices.Equal(sent, optimisticFast) {
		t.Fatalf("a keyed optimistic booking sent %v; want %v", sent, optimisticFast)
	}
	assertStoredAsTheReservation(t, b.pool, "ok-1", first.Value)

	again, err := b.store.Reserve(ctx, "optimistic", req, key)
	if err != nil || !again.Replayed || again.Value != first.Value {
		t.Fatalf("resend: %+v %v; want %+v replayed", again, err, first.Value)
	}
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 2 || totals.reserved != 2 || len(totals.reservationIDs) != 1 {
		t.Fatalf("totals %+v; want one booking of 2", totals)
	}
}

// A hold's key (a row of idempotency_keys, which the statement's claim
// checks: no reservation's key index would stop it) used for a booking:
// the fast path commits nothing, and the general path refuses it as
// reused.
func TestOptimisticKeyedWithAHoldsKeyIsRefusedAsReused(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	if _, err := b.store.PlaceHold(ctx, evento.HoldRequest{BookRequest: b.hotel.request("held", 1), TTL: time.Hour}, idemKey("held", "hold held")); err != nil {
		t.Fatal(err)
	}
	b.log.take()
	o, err := b.store.Reserve(ctx, "optimistic", b.hotel.request("held", 2), idemKey("held", "reserve held"))
	if !errors.Is(err, evento.ErrKeyReused) {
		t.Fatalf("a hold's key reused for a booking: %+v %v; want key reused", o, err)
	}
	tookOptimisticGeneralPath(t, b.log.take())
	if n := queryInt(t, b.pool, `SELECT count(*) FROM reservations WHERE idempotency_key = 'held'`); n != 0 {
		t.Fatalf("the hold's key is on %d reservations", n)
	}
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 0 || totals.reserved != 0 {
		t.Fatalf("totals %+v; want no booking", totals)
	}
}

// A key another transaction holds (its advisory lock taken, its booking
// not yet done): the fast path commits nothing and does not wait; the
// request then waits for the key on the general path and replays the
// booking the key's holder commits.
func TestOptimisticKeyedWithABusyKeyFallsBackAndWaits(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	key := idemKey("busy", "reserve busy")
	holder := holdKey(t, b.pool, key)

	waiting := reserveAsync(ctx, b.store, "optimistic", b.hotel.request("busy", 2), key)
	waitForLockWaiters(t, b.pool, 1)
	tookOptimisticGeneralPath(t, b.log.take())
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 0 || totals.reserved != 0 {
		t.Fatalf("totals %+v while the key is busy; want nothing booked", totals)
	}

	holderBooksWaiterReplays(t, holder, "optimistic", b.hotel.request("busy", 2), waiting)
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 2 || len(totals.reservationIDs) != 1 {
		t.Fatalf("totals %+v; want the holder's booking of 2 alone", totals)
	}
}

// Another writer books between the fast path's read and its swap: the swap
// loses and commits nothing (checked as the general path begins), and the
// general path reads and swaps again, the key on its reservation.
func TestOptimisticKeyedLostSwapFallsBack(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	atomic := mustStrategy(t, "atomic")
	other := b.hotel.request("other", 1)
	var swaps, begins int
	b.log.onSend = func(name string) {
		switch name {
		case "OptimisticBookKeyed":
			if swaps++; swaps == 1 {
				if _, err := reserve(ctx, newStore(b.pool), atomic, other); err != nil {
					t.Errorf("the other writer: %v", err)
				}
			}
		case "begin":
			if begins++; begins == 1 {
				if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.reserved != 1 || keyedRows(t, b.pool, "swap") != 0 {
					t.Errorf("after the lost swap: totals %+v, %d rows of the key; want the other's booking alone", totals, keyedRows(t, b.pool, "swap"))
				}
			}
		}
	}

	req := b.hotel.request("swap", 3)
	got, err := b.store.Reserve(ctx, "optimistic", req, idemKey("swap", "reserve swap"))
	mustBeBooked(t, got, err, req)
	sent := b.log.take()
	tookOptimisticGeneralPath(t, sent)
	if swaps != 1 || sent[len(sent)-1] != "commit" {
		t.Fatalf("sent %v; want one fast-path swap, then the general path's transaction", sent)
	}
	assertStoredAsTheReservation(t, b.pool, "swap", got.Value)
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 4 || totals.reserved != 4 || len(totals.reservationIDs) != 2 {
		t.Fatalf("totals %+v; want 1 + 3 in two reservations", totals)
	}
}
