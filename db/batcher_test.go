package db_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// batchedStore is one server serving the batched strategy with a batch
// window, and its batch sizes.
func batchedStore(t *testing.T, pool *pgxpool.Pool, window time.Duration, onBatch func(int)) *db.Store {
	t.Helper()
	return db.NewStore(pool, db.Options{Batches: db.BatchOptions{Window: window, OnBatch: onBatch}})
}

// Two servers on one 20-room hotel, 60 batched requests of mixed sizes
// near sell-out: never more than 20 booked, the hotel sells out, and every
// request is answered exactly: a refusal says how many rooms were left
// when its turn came, which is fewer than it asked for.
func TestBatchedAnswersEveryRequestExactly(t *testing.T) {
	t.Parallel()
	const requests, rooms = 60, 20
	pool := dbtest.NewPool(t, 10)
	hotel := seedHotel(t, pool, rooms)
	var mu sync.Mutex
	var sizes []int
	onBatch := func(n int) { mu.Lock(); sizes = append(sizes, n); mu.Unlock() }
	servers := []*db.Store{batchedStore(t, pool, 5*time.Millisecond, onBatch), batchedStore(t, pool, 5*time.Millisecond, onBatch)}
	ctx := testContext(t)
	var wg sync.WaitGroup
	var bookedRooms, refusals int32
	acknowledged := map[int64]int32{}
	for i := range requests {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			req := hotel.request(fmt.Sprintf("r%d", i), int32(1+rng.IntN(5)))
			booking, err := valueOf(servers[i%2].Reserve(ctx, "batched", req, nil))
			mu.Lock()
			defer mu.Unlock()
			var shortfall *evento.ShortfallError
			switch {
			case err == nil:
				bookedRooms += booking.Rooms
				acknowledged[booking.ReservationID] = booking.Rooms
			case errors.As(err, &shortfall):
				refusals++
				if shortfall.Available >= req.Rooms {
					t.Errorf("refused %d rooms while %d were left", req.Rooms, shortfall.Available)
				}
			default:
				t.Errorf("request %d: %v", i, err)
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

// Keys in a batch: a resend that lands in the same batch as the first
// waits for that batch and replays its booking (the same duplicate
// behaviour as every other mode), a later resend replays too, a reused key
// with another request is refused, and one booking is made.
func TestBatchedWithIdempotencyKeys(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 4)
	hotel := seedHotel(t, pool, 10)
	var mu sync.Mutex
	var sizes []int
	store := batchedStore(t, pool, 50*time.Millisecond, func(n int) { mu.Lock(); sizes = append(sizes, n); mu.Unlock() })
	ctx := testContext(t)
	key := idemKey("b-1", "f")
	submit := func(k *evento.IdempotencyKey, rooms int32) <-chan result {
		return reserveAsync(ctx, store, "batched", hotel.request("k", rooms), k)
	}
	first, twin := submit(key, 2), submit(key, 2) // both land in the same 50ms window
	a, b := <-first, <-twin
	if a.err != nil || b.err != nil || a.outcome.Refusal != nil || b.outcome.Refusal != nil {
		t.Fatalf("same key twice in a batch: %+v / %+v", a, b)
	}
	if a.outcome.Value != b.outcome.Value || a.outcome.Replayed == b.outcome.Replayed {
		t.Fatalf("same key twice in a batch: %+v / %+v; want one booking, answered once and replayed once", a, b)
	}
	if mu.Lock(); sizes[0] != 2 {
		t.Errorf("batch sizes %v: the twin did not share the first batch", sizes)
	}
	mu.Unlock()
	replay := <-submit(key, 2)
	if replay.err != nil || !replay.outcome.Replayed || replay.outcome.Value != a.outcome.Value {
		t.Fatalf("replay: %+v, want %+v replayed", replay, a.outcome.Value)
	}
	if r := <-submit(idemKey("b-1", "other"), 3); !errors.Is(r.err, evento.ErrKeyReused) {
		t.Fatalf("reused key: %+v", r)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 || len(totals.reservationIDs) != 1 {
		t.Fatalf("booked %d in %d rows; want one booking of 2", totals.booked, len(totals.reservationIDs))
	}
}

// A request whose context ends while it still waits for a batch is
// withdrawn: it is told nothing was done, and nothing is.
func TestBatchedRequestWithdrawnBeforeItsBatch(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 4)
	hotel := seedHotel(t, pool, 10)
	store := batchedStore(t, pool, 300*time.Millisecond, nil)
	ctx, cancel := context.WithTimeout(testContext(t), 20*time.Millisecond)
	defer cancel()
	if _, err := store.Reserve(ctx, "batched", hotel.request("late", 2), nil); !errors.Is(err, evento.ErrUnavailable) {
		t.Fatalf("withdrawn request: %v, want unavailable", err)
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
	t.Parallel()
	store, bundle := setup(t, 4, 5)
	pool, hotel, ctx := bundle.pool, bundle.hotel, bundle.ctx
	backdate(t, pool, mustHold(t, store, hotel, "gone", 5, time.Minute).Handle)
	booking, err := reserve(ctx, store, mustStrategy(t, "batched"), hotel.request("next", 5))
	if err != nil || booking.Rooms != 5 {
		t.Fatalf("batch after the hold expired: %+v %v", booking, err)
	}
	if _, reserved, locked := checkHoldInvariants(t, pool, hotel.HotelID); reserved != 5 || locked != 0 {
		t.Fatalf("reserved %d locked %d", reserved, locked)
	}
}
