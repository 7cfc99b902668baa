package db_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
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
// stale, its swap loses and forgets it, and the booking reads and swaps.
// Unkeyed, the loss is a conflict like any other, rerun after the backoff;
// keyed, the fast path reads and swaps at once, as it never answers a
// conflict (its loss would send the request to the general path).
func TestOptimisticStaleVersionLosesItsSwapThenReads(t *testing.T) {
	for _, c := range []struct {
		name   string
		swap   string
		key    func(string) *evento.IdempotencyKey
		reruns int64
	}{
		{"unkeyed", "OptimisticBook", func(string) *evento.IdempotencyKey { return nil }, 1},
		{"keyed", "OptimisticBookKeyed", func(name string) *evento.IdempotencyKey { return idemKey(name, "reserve "+name) }, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newTracedBatches(t, 10)
			ctx := testContext(t)
			var reruns atomic.Int64
			store := newRerunCounting(b, &reruns)
			first, second := b.hotel.request("first", 2), b.hotel.request("second", 3)
			got, err := store.Reserve(ctx, "optimistic", first, c.key("first"))
			mustBeBooked(t, got, err, first)
			b.otherWriterBooks(t)
			b.log.take()
			got, err = store.Reserve(ctx, "optimistic", second, c.key("second"))
			mustBeBooked(t, got, err, second)
			if sent, want := b.log.take(), []string{c.swap, "GetHotelRooms", c.swap}; !slices.Equal(sent, want) {
				t.Fatalf("sent %v; want %v: the stale version's lost swap, then a read and a swap", sent, want)
			}
			if reruns.Load() != c.reruns {
				t.Fatalf("%d reruns; want %d", reruns.Load(), c.reruns)
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

// A version a transaction's swap returned is not remembered: when the
// transaction rolls back (here its COMMIT never goes out, as when the
// client goes away), the row keeps its old version, and the next write
// can stamp the very updated_at the rolled-back swap returned, over other
// counters. It does whenever the database's clock is behind the row's
// stamp (a clock stepped back): every write then stamps updated_at + 1 µs.
// A swap from the undone version would land on that write, judged by
// counters that never were: here 3 rooms on top of 9 of 10.
func TestOptimisticRemembersNoVersionARollbackUndid(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	if _, err := b.pool.Exec(ctx, `UPDATE event_hotel_rooms SET updated_at = clock_timestamp() + interval '1 hour' WHERE event_id = $1 AND hotel_id = $2`,
		b.hotel.EventID, b.hotel.HotelID); err != nil {
		t.Fatal(err)
	}
	who, _, err := db.CreateClient(ctx, b.pool, "limited", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A limit runs the booking in a transaction.
	undone := b.hotel.request("undone", 2)
	undone.Client, undone.MaxRoomsPerEvent = who.ID, 10
	gone, leave := context.WithCancel(ctx)
	defer leave()
	b.log.onSend = func(name string) {
		if name == "commit" {
			leave()
		}
	}
	_, err = b.store.Reserve(gone, "optimistic", undone, nil)
	b.log.onSend = nil
	if err == nil {
		t.Fatal("the limited booking committed; want it rolled back")
	}
	other := b.hotel.request("other", 9)
	got, err := newStore(b.pool).Reserve(ctx, "atomic", other, nil)
	mustBeBooked(t, got, err, other)
	_, err = valueOf(b.store.Reserve(ctx, "optimistic", b.hotel.request("late", 3), nil))
	if !errors.Is(err, evento.ErrInsufficientRooms) {
		t.Fatalf("err = %v; want insufficient rooms: 1 left", err)
	}
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 9 || totals.reserved != 9 {
		t.Fatalf("totals %+v; want the other writer's 9 rooms only", totals)
	}
}

// A resend of a keyed booking, whose key its reservation holds, swaps
// from the version the booking left, and the statement's unique_violation
// says the key is taken, not that the version is stale: the resend goes
// to the general path, which replays the booking, without a read and a
// second swap that would meet the same key.
func TestOptimisticResendGoesFromTheRememberedSwapToTheReplay(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	req, key := b.hotel.request("resent", 2), idemKey("resent", "reserve resent")
	first, err := b.store.Reserve(ctx, "optimistic", req, key)
	mustBeBooked(t, first, err, req)
	b.log.take()
	again, err := b.store.Reserve(ctx, "optimistic", req, key)
	if err != nil || !again.Replayed || again.Value != first.Value {
		t.Fatalf("resend: %+v %v; want %+v replayed", again, err, first.Value)
	}
	if sent := b.log.take(); len(sent) < 2 || sent[0] != "OptimisticBookKeyed" || sent[1] != "begin" {
		t.Fatalf("sent %v; want the swap from the remembered version, then the general path's transaction", sent)
	}
}
