package db_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// 60 clients race for a 20-room hotel with each safe strategy: never more
// than 20 rooms booked, the counter equals the sum of the rows, every
// acknowledged booking is a row, and the hotel really sells out.
func TestSafeStrategiesNeverOverbook(t *testing.T) {
	t.Parallel()
	const clients, rooms = 60, 20
	for _, strategy := range db.Strategies {
		if !strategy.Safe {
			continue
		}
		t.Run(strategy.Name, func(t *testing.T) {
			t.Parallel()
			store, bundle := setupFor(t, strategy, clients, rooms)
			pool, hotel, ctx := bundle.pool, bundle.hotel, bundle.ctx

			var mu sync.Mutex // guards acknowledged
			acknowledged := map[int64]int32{}
			var conflicts atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for c := range clients {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(c), 7))
					want := int32(1 + rng.IntN(3))
					for {
						booking, err := reserve(ctx, store, strategy, hotel.request(fmt.Sprintf("client-%d", c), want))
						var shortfall *evento.ShortfallError
						switch {
						case err == nil:
							mu.Lock()
							acknowledged[booking.ReservationID] = booking.Rooms
							mu.Unlock()
						case errors.Is(err, evento.ErrConflict):
							conflicts.Add(1)
						case errors.Is(err, evento.ErrSoldOut):
							return
						case errors.As(err, &shortfall):
							want = shortfall.Available
						default:
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("unexpected error: %v", err)
			}

			totals := readTotals(t, pool, hotel.HotelID)
			if totals.booked != rooms || totals.reserved != rooms {
				t.Fatalf("booked %d, counter %d; want both exactly %d (never more, and sold out)", totals.booked, totals.reserved, rooms)
			}
			if len(acknowledged) != len(totals.reservationIDs) {
				t.Fatalf("%d bookings acknowledged, %d rows stored", len(acknowledged), len(totals.reservationIDs))
			}
			for id, n := range acknowledged {
				if totals.reservationIDs[id] != n {
					t.Fatalf("acknowledged reservation %d of %d rooms; stored: %d", id, n, totals.reservationIDs[id])
				}
			}
			t.Logf("%s: %d reservations, %d conflicts retried", strategy.Name, len(acknowledged), conflicts.Load())
		})
	}
}

// serializable under contention: transactions that lose are rerun by the
// server, and the hotel still sells out exactly. The race window makes
// every transaction overlap others between its read and its write.
func TestSerializableRetriesAndFinishes(t *testing.T) {
	t.Parallel()
	const clients, rooms = 30, 20
	pool := dbtest.NewPool(t, clients)
	hotel := seedHotel(t, pool, rooms)
	var retries atomic.Int64
	store := db.NewStore(pool, db.Options{RaceWindow: 5 * time.Millisecond, OnRetry: func(string) { retries.Add(1) }})
	serializable := mustStrategy(t, "serializable")
	ctx := testContext(t)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for {
				_, err := reserve(ctx, store, serializable, hotel.request(fmt.Sprintf("c%d", c), 1))
				if errors.Is(err, evento.ErrSoldOut) {
					return
				}
				if err != nil && !errors.Is(err, evento.ErrConflict) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != rooms || totals.reserved != rooms {
		t.Fatalf("booked %d, counter %d; want %d", totals.booked, totals.reserved, rooms)
	}
	if retries.Load() == 0 {
		t.Fatal("no transaction was rerun: the contention the test needs did not happen")
	}
	t.Logf("%d serialization retries", retries.Load())
}
