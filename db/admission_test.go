package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// TestHotelAdmissionKeepsTheRowsQueueShort: with HotelAdmission 2, ten
// bookings of one hotel whose row another session holds put two backends
// in PostgreSQL's lock queue, not ten; the rest wait in the server. A
// booking of another hotel is not held up, one whose deadline ends in the
// server's queue is a 503 that wrote nothing, and once the row is free
// all ten book. Without the gate all ten wait on the lock.
func TestHotelAdmissionKeepsTheRowsQueueShort(t *testing.T) {
	for _, strategy := range db.Strategies {
		if !strategy.Admitted() {
			continue
		}
		t.Run(strategy.Name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			pool := dbtest.NewPool(t, 20)
			hot, other := seedHotel(t, pool, 100), seedHotel(t, pool, 100)
			const admitted, bookings = 2, 10
			store := db.NewStore(pool, db.Options{HotelAdmission: admitted})

			holder, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Rollback(ctx)
			if _, err := holder.Exec(ctx, `SELECT 1 FROM event_hotel_rooms WHERE event_id = $1 AND hotel_id = $2 FOR UPDATE`, hot.EventID, hot.HotelID); err != nil {
				t.Fatal(err)
			}

			var wg sync.WaitGroup
			errs := make(chan error, bookings)
			for range bookings {
				wg.Go(func() {
					_, err := reserve(ctx, store, strategy, hot.request("queued", 1))
					errs <- err
				})
			}
			waitFor(t, pool, admitted, "the admitted bookings never reached the row lock", lockWaiters)
			// Long enough for eight more to queue on the lock, were they let in.
			time.Sleep(500 * time.Millisecond)
			if n := queryInt(t, pool, lockWaiters); n != admitted {
				t.Fatalf("%d backends wait on the hotel's lock, want %d (HotelAdmission)", n, admitted)
			}

			if _, err := reserve(ctx, store, strategy, other.request("elsewhere", 1)); err != nil {
				t.Fatalf("a booking of another hotel: %v", err)
			}
			shortCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			_, err = reserve(shortCtx, store, strategy, hot.request("impatient", 1))
			cancel()
			if !errors.Is(err, evento.ErrUnavailable) {
				t.Fatalf("a booking whose deadline ended in the queue: %v, want ErrUnavailable", err)
			}

			if err := holder.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			close(errs)
			booked := int32(0)
			for err := range errs {
				switch {
				case err == nil:
					booked++
				case !errors.Is(err, evento.ErrConflict): // optimistic's answer to a lost race
					t.Fatalf("a queued booking: %v", err)
				}
			}
			if got := readTotals(t, pool, hot.HotelID); booked == 0 || got.reserved != booked || got.booked != booked {
				t.Fatalf("hotel totals %+v, want the %d rooms booked, and the impatient booking's none", got, booked)
			}
		})
	}
}
