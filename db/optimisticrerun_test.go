package db_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
)

// Another writer books between an optimistic booking's read and its swap,
// before the first swap only: the swap loses, and the server reads and
// swaps again instead of answering conflict, and counts the rerun.
func TestOptimisticLostSwapIsRerunInTheServer(t *testing.T) {
	b := newTracedBatches(t, 10)
	swaps, reruns := swapsLostTo(t, b, 1)
	req := b.hotel.request("rerun", 3)
	got, err := newRerunCounting(b, reruns).Reserve(testContext(t), "optimistic", req, nil)
	mustBeBooked(t, got, err, req)
	want := []string{"GetHotelRooms", "OptimisticBook", "GetHotelRooms", "OptimisticBook"}
	if sent := b.log.take(); !slices.Equal(sent, want) {
		t.Fatalf("sent %v; want %v: a lost swap, then a read and a swap again", sent, want)
	}
	if *swaps != 2 || reruns.Load() != 1 {
		t.Fatalf("%d swaps, %d reruns; want 2 swaps, 1 rerun", *swaps, reruns.Load())
	}
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 4 || totals.reserved != 4 {
		t.Fatalf("totals %+v; want the other's 1 and this booking's 3", totals)
	}
}

// Another writer books before every swap: after Strategy.Attempts lost
// swaps the server gives up, and the answer is the conflict the client
// retries, with nothing of this booking written.
func TestOptimisticGivesUpAfterItsAttempts(t *testing.T) {
	b := newTracedBatches(t, 10)
	attempts := mustStrategy(t, "optimistic").Attempts
	swaps, reruns := swapsLostTo(t, b, attempts)
	_, err := newRerunCounting(b, reruns).Reserve(testContext(t), "optimistic", b.hotel.request("loser", 3), nil)
	if !errors.Is(err, evento.ErrConflict) {
		t.Fatalf("err = %v; want conflict", err)
	}
	if *swaps != attempts || reruns.Load() != int64(attempts-1) {
		t.Fatalf("%d swaps, %d reruns; want %d swaps, %d reruns", *swaps, reruns.Load(), attempts, attempts-1)
	}
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != int32(attempts) || totals.reserved != int32(attempts) {
		t.Fatalf("totals %+v; want the other writer's %d rooms alone", totals, attempts)
	}
}

// swapsLostTo makes an atomic booking of 1 room, through a store of its
// own, just before each of the first n OptimisticBook statements the
// traced store sends; it counts those statements.
func swapsLostTo(t *testing.T, b tracedBatches, n int) (swaps *int, reruns *atomic.Int64) {
	t.Helper()
	swaps = new(int)
	b.log.onSend = func(name string) {
		if name != "OptimisticBook" {
			return
		}
		if *swaps++; *swaps <= n {
			b.otherWriterBooks(t)
		}
	}
	return swaps, new(atomic.Int64)
}

// otherWriterBooks books 1 room at b's hotel through a store of its own on
// the untraced pool: the writer an optimistic swap loses to.
func (b tracedBatches) otherWriterBooks(t *testing.T) {
	if _, err := valueOf(newStore(b.pool).Reserve(testContext(t), "atomic", b.hotel.request("other", 1), nil)); err != nil {
		t.Errorf("the other writer: %v", err)
	}
}

// newRerunCounting is a store on b's traced pool that counts its reruns.
func newRerunCounting(b tracedBatches, reruns *atomic.Int64) *db.Store {
	return db.NewStore(b.traced, db.Options{OnRetry: func(string) { reruns.Add(1) }})
}

// A keyed booking loses its swap on the fast path and again on the general
// path. The general path's rollback releases the key, so a duplicate with
// the same key, sent while the loser backs off, books at once; the rerun
// then finds the key used and replays that booking: one booking, two
// answers of it.
func TestOptimisticKeyedRerunReplaysTheDuplicateThatBookedMeanwhile(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	req, key := b.hotel.request("dup", 3), idemKey("dup", "reserve dup")
	var duplicate evento.Outcome[evento.Booking]
	var fastSwaps, swaps, begins int
	b.log.onSend = func(name string) {
		lose := false
		switch name {
		case "OptimisticBookKeyed":
			fastSwaps++
			lose = fastSwaps == 1
		case "OptimisticBook":
			swaps++
			lose = swaps == 1
		case "begin":
			if begins++; begins == 2 {
				// Between the general path's lost swap and its rerun.
				var err error
				if duplicate, err = newStore(b.pool).Reserve(ctx, "optimistic", req, key); err != nil {
					t.Errorf("the duplicate, while the loser backs off: %v", err)
				}
			}
		}
		if lose {
			b.otherWriterBooks(t)
		}
	}
	got, err := b.store.Reserve(ctx, "optimistic", req, key)
	b.log.onSend = nil
	mustBeBooked(t, duplicate, nil, req)
	if err != nil || !got.Replayed || got.Value != duplicate.Value {
		t.Fatalf("the rerun answered %+v %v; want the duplicate's booking %+v, replayed", got, err, duplicate.Value)
	}
	if fastSwaps != 1 || swaps != 1 || begins != 2 {
		t.Fatalf("%d fast-path swaps, %d general swaps, %d transactions; want 1, 1 and 2", fastSwaps, swaps, begins)
	}
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 5 || totals.reserved != 5 || keyedRows(t, b.pool, "dup") != 1 {
		t.Fatalf("totals %+v, %d rows of the key; want the other's 2 and one booking of 3", totals, keyedRows(t, b.pool, "dup"))
	}
}
