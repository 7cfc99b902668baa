package db_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/evento-lab/evento"
)

// A server's second optimistic booking of a hotel swaps from the version
// its first swap returned: one statement, no read.
func TestOptimisticSwapsFromTheVersionItsLastSwapLeft(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	first, second := b.hotel.request("first", 2), b.hotel.request("second", 3)
	got, err := b.store.Reserve(ctx, "optimistic", first, nil)
	mustBeBooked(t, got, err, first)
	b.log.take()
	got, err = b.store.Reserve(ctx, "optimistic", second, nil)
	mustBeBooked(t, got, err, second)
	if sent, want := b.log.take(), []string{"OptimisticBook"}; !slices.Equal(sent, want) {
		t.Fatalf("sent %v; want %v: the swap from the version the first one left", sent, want)
	}
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 5 || totals.reserved != 5 {
		t.Fatalf("totals %+v; want 2 and 3 rooms booked", totals)
	}
}

// Another writer books after the server's swap: the remembered version is
// stale, its swap loses, and the booking reads and swaps at once. A stale
// guess is not a race lost over a read: no backoff, no rerun.
func TestOptimisticStaleVersionIsReadAgainAtOnce(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		t.Run(map[bool]string{false: "unkeyed", true: "keyed"}[keyed], func(t *testing.T) {
			b := newTracedBatches(t, 10)
			ctx := testContext(t)
			var reruns atomic.Int64
			store := newRerunCounting(b, &reruns)
			swap, key := "OptimisticBook", func(string) *evento.IdempotencyKey { return nil }
			if keyed {
				swap, key = "OptimisticBookKeyed", func(name string) *evento.IdempotencyKey { return idemKey(name, "reserve "+name) }
			}
			first, second := b.hotel.request("first", 2), b.hotel.request("second", 3)
			got, err := store.Reserve(ctx, "optimistic", first, key("first"))
			mustBeBooked(t, got, err, first)
			b.otherWriterBooks(t)
			b.log.take()
			got, err = store.Reserve(ctx, "optimistic", second, key("second"))
			mustBeBooked(t, got, err, second)
			if sent, want := b.log.take(), []string{swap, "GetHotelRooms", swap}; !slices.Equal(sent, want) {
				t.Fatalf("sent %v; want %v: the stale version's lost swap, then a read and a swap", sent, want)
			}
			if reruns.Load() != 0 {
				t.Fatalf("%d reruns; want none", reruns.Load())
			}
			if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 6 || totals.reserved != 6 {
				t.Fatalf("totals %+v; want 2, the other's 1 and 3", totals)
			}
		})
	}
}

// A remembered version never refuses: after the server sold the hotel
// out, the next booking reads before it says so, and once a cancel gives
// rooms back, the read books them.
func TestOptimisticRefusesOnlyFromARead(t *testing.T) {
	b := newTracedBatches(t, 5)
	ctx := testContext(t)
	all := b.hotel.request("all", 5)
	got, err := b.store.Reserve(ctx, "optimistic", all, nil)
	mustBeBooked(t, got, err, all)
	b.log.take()
	_, err = valueOf(b.store.Reserve(ctx, "optimistic", b.hotel.request("late", 1), nil))
	if !errors.Is(err, evento.ErrSoldOut) {
		t.Fatalf("err = %v; want sold out", err)
	}
	if sent, want := b.log.take(), []string{"GetHotelRooms"}; !slices.Equal(sent[:min(1, len(sent))], want) || slices.Contains(sent, "OptimisticBook") {
		t.Fatalf("sent %v; want a read first and no swap", sent)
	}
	ref := evento.ReservationRef{EventID: all.EventID, HotelID: all.HotelID, ReservationID: got.Value.ReservationID}
	if err := newStore(b.pool).CancelReservation(ctx, ref); err != nil {
		t.Fatal(err)
	}
	again := b.hotel.request("again", 2)
	got, err = b.store.Reserve(ctx, "optimistic", again, nil)
	mustBeBooked(t, got, err, again)
	if sent, want := b.log.take(), []string{"GetHotelRooms", "OptimisticBook"}; !slices.Equal(sent, want) {
		t.Fatalf("sent %v; want %v", sent, want)
	}
}
