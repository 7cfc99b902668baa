package db_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// Two Batchers (two servers) on one 20-room hotel, 60 requests of mixed
// sizes near sell-out: never more than 20 booked, the hotel sells out, and
// every request is answered exactly: a refusal says how many rooms were
// left when its turn came, which is fewer than it asked for.
func TestBatchedAnswersEveryRequestExactly(t *testing.T) {
	const requests, rooms = 60, 20
	pool := dbtest.NewPool(t, 10)
	hotel := seedHotel(t, pool, rooms)
	var mu sync.Mutex
	var sizes []int
	onBatch := func(n int) { mu.Lock(); sizes = append(sizes, n); mu.Unlock() }
	servers := []*db.Batcher{
		{Pool: pool, Window: 5 * time.Millisecond, OnBatch: onBatch},
		{Pool: pool, Window: 5 * time.Millisecond, OnBatch: onBatch},
	}
	ctx := testContext(t)
	var wg sync.WaitGroup
	var bookedRooms, refusals int32
	acknowledged := map[int64]int32{}
	for i := range requests {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			req := hotel.request(fmt.Sprintf("r%d", i), int32(1+rng.IntN(5)))
			res := servers[i%2].Submit(ctx, db.BatchRequest{Book: req})
			mu.Lock()
			defer mu.Unlock()
			var shortfall *db.ShortfallError
			switch {
			case res.Err == nil:
				bookedRooms += res.Booking.Rooms
				acknowledged[res.Booking.ReservationID] = res.Booking.Rooms
			case errors.As(res.Err, &shortfall):
				refusals++
				if shortfall.Available >= req.Rooms {
					t.Errorf("refused %d rooms while %d were left", req.Rooms, shortfall.Available)
				}
			default:
				t.Errorf("request %d: %v", i, res.Err)
			}
		})
	}
	wg.Wait()
	totals := readTotals(t, pool, hotel.HotelID)
	if totals.booked != rooms || totals.reserved != rooms || bookedRooms != rooms {
		t.Fatalf("booked %d, counter %d, acknowledged %d; want exactly %d", totals.booked, totals.reserved, bookedRooms, rooms)
	}
	for id, n := range acknowledged {
		if totals.reservationIDs[id] != n {
			t.Fatalf("acknowledged reservation %d (%d rooms) stored as %d", id, n, totals.reservationIDs[id])
		}
	}
	largest := 0
	for _, n := range sizes {
		largest = max(largest, n)
	}
	if largest < 2 {
		t.Fatalf("batch sizes %v: nothing was batched", sizes)
	}
	t.Logf("%d batches, largest %d, %d refusals", len(sizes), largest, refusals)
}

// Keys in a batch: a resend inside the same batch is told the first is in
// progress, a later resend replays the stored answer, a reused key with
// another request is refused, and one booking is made.
func TestBatchedWithIdempotencyKeys(t *testing.T) {
	pool := dbtest.NewPool(t, 4)
	hotel := seedHotel(t, pool, 10)
	batcher := &db.Batcher{Pool: pool, Window: 50 * time.Millisecond}
	ctx := testContext(t)
	render := func(b db.Booking, err error) (db.StoredResponse, error) {
		if err != nil {
			return db.StoredResponse{Status: 409, Body: []byte(err.Error())}, nil
		}
		return db.StoredResponse{Status: 201, Body: []byte(fmt.Sprint(b.ReservationID))}, nil
	}
	key := &db.IdempotencyKey{Key: "b-1", Fingerprint: "f", Keep: time.Hour}
	submit := func(k *db.IdempotencyKey, rooms int32) <-chan db.BatchResult {
		out := make(chan db.BatchResult, 1)
		go func() {
			out <- batcher.Submit(ctx, db.BatchRequest{Book: hotel.request("k", rooms), Key: k, Render: render})
		}()
		return out
	}
	first, twin := submit(key, 2), submit(key, 2) // both land in the same 50ms window
	a, b := <-first, <-twin
	if a.Err != nil && b.Err != nil {
		t.Fatalf("both failed: %v / %v", a.Err, b.Err)
	}
	winner, other := a, b
	if a.Err != nil {
		winner, other = b, a
	}
	if winner.Response == nil || winner.Response.Status != 201 || !errors.Is(other.Err, db.ErrRequestInProgress) {
		t.Fatalf("same key twice in a batch: %+v / %+v", winner, other)
	}
	replay := <-submit(key, 2)
	if !replay.Replayed || replay.Response == nil || string(replay.Response.Body) != string(winner.Response.Body) {
		t.Fatalf("replay: %+v, want %s replayed", replay, winner.Response.Body)
	}
	reused := &db.IdempotencyKey{Key: "b-1", Fingerprint: "other", Keep: time.Hour}
	if r := <-submit(reused, 3); !errors.Is(r.Err, db.ErrKeyReused) {
		t.Fatalf("reused key: %+v", r)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 || len(totals.reservationIDs) != 1 {
		t.Fatalf("booked %d in %d rows; want one booking of 2", totals.booked, len(totals.reservationIDs))
	}
}

// A request whose context ends while it still waits for a batch is
// withdrawn: it is told nothing was done, and nothing is.
func TestBatchedRequestWithdrawnBeforeItsBatch(t *testing.T) {
	pool := dbtest.NewPool(t, 4)
	hotel := seedHotel(t, pool, 10)
	batcher := &db.Batcher{Pool: pool, Window: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(testContext(t), 20*time.Millisecond)
	defer cancel()
	res := batcher.Submit(ctx, db.BatchRequest{Book: hotel.request("late", 2)})
	if !errors.Is(res.Err, db.ErrUnavailable) {
		t.Fatalf("withdrawn request: %+v, want unavailable", res)
	}
	time.Sleep(400 * time.Millisecond) // the batch window passes
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 0 {
		t.Fatalf("a withdrawn request was booked: %d rooms", totals.booked)
	}
}

// A batch refused for rooms that only an overdue hold still takes gives
// those rooms back and books: batched, like the other strategies, treats
// an expired hold as gone before any sweeper runs.
func TestBatchedFreesOverdueHolds(t *testing.T) {
	pool := dbtest.NewPool(t, 4)
	store := &db.Store{Pool: pool}
	hotel := seedHotel(t, pool, 5)
	ctx := testContext(t)
	h, err := store.PlaceHold(ctx, db.HoldRequest{BookRequest: hotel.request("gone", 5), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	backdate(t, pool, h.ID)
	res := (&db.Batcher{Pool: pool}).Submit(ctx, db.BatchRequest{Book: hotel.request("next", 5)})
	if res.Err != nil || res.Booking.Rooms != 5 {
		t.Fatalf("batch after the hold expired: %+v", res)
	}
	if _, reserved, locked := checkHoldInvariants(t, pool, hotel.HotelID); reserved != 5 || locked != 0 {
		t.Fatalf("reserved %d locked %d", reserved, locked)
	}
}
