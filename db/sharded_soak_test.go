package db_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// Small hotels split into few buckets, sold out again and again by
// concurrent clients through the real Store, half the requests keyed: the
// end of a sale, where picks reject full buckets, waits and the all-bucket
// step meet. Every hotel must sell out exactly, every client hear only
// bookings and refusals, and PostgreSQL must report no deadlock (a cycle
// is a cycle whatever the timing: correct code has none to find). Two
// seconds in `make test`; EVENTO_SOAK=10s (a duration) soaks longer. This
// is how a review found the deadlock that TestShardedWaitsHoldingNoBucket
// ItRejected now pins down step by step. It runs twice: as served, where
// most keyed bookings take the one-statement fast path, and with that path
// off, so that every keyed booking picks its buckets inside a transaction,
// where a pick it rejects must be rolled back to its savepoint.
func TestShardedSoakNeverDeadlocks(t *testing.T) {
	t.Parallel()
	sharded := mustStrategy(t, "sharded")
	noFastPath := sharded
	noFastPath.BookKeyed = nil
	for name, strategy := range map[string]db.Strategy{"served": sharded, "keys in a transaction": noFastPath} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			soakSharded(t, strategy)
		})
	}
}

func soakSharded(t *testing.T, strategy db.Strategy) {
	soak := 2 * time.Second
	if v := os.Getenv("EVENTO_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("EVENTO_SOAK=%q: %v", v, err)
		}
		soak = d
	}
	const rooms, buckets, clients = 24, 4, 12
	pool := dbtest.NewPool(t, clients+4)
	var reruns atomic.Int64
	store := db.NewStore(pool, db.Options{OnRetry: func(string) { reruns.Add(1) }, Strategies: []db.Strategy{strategy}})
	ctx := testContext(t)
	deadlocks := func() int {
		return queryInt(t, pool, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)
	}
	before := deadlocks()
	var conflicts atomic.Int64
	hotels := 0
	for deadline := time.Now().Add(soak); time.Now().Before(deadline); hotels++ {
		hotel := seedBuckets(t, pool, rooms, buckets)
		var wg sync.WaitGroup
		var sold atomic.Int64
		for c := range clients {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(hotels), uint64(c)))
				want := int32(1 + rng.IntN(4))
				for i := 0; ; i++ {
					var key *evento.IdempotencyKey
					if rng.IntN(2) == 0 {
						key = idemKey(fmt.Sprintf("h%d-c%d-%d", hotels, c, i), "f")
					}
					_, err := valueOf(store.Reserve(ctx, "sharded", hotel.request("c", want), key))
					switch {
					case err == nil:
						sold.Add(int64(want))
					case errors.Is(err, evento.ErrConflict):
						conflicts.Add(1)
					case errors.Is(err, evento.ErrSoldOut):
						return
					case errors.Is(err, evento.ErrInsufficientRooms):
						want = 1
					default:
						t.Errorf("hotel %d: %v", hotels, err)
						return
					}
				}
			})
		}
		wg.Wait()
		if totals := readTotals(t, pool, hotel.HotelID); totals.booked != rooms || totals.reserved != rooms || sold.Load() != rooms {
			t.Fatalf("hotel %d: totals %+v, %d rooms acknowledged; want all %d, exactly", hotels, totals, sold.Load(), rooms)
		}
	}
	if n := deadlocks() - before; n != 0 {
		t.Fatalf("PostgreSQL broke %d deadlocks over %d hotels", n, hotels)
	}
	t.Logf("%d hotels sold out exactly; %d conflicts answered, %d bookings rerun, no deadlock", hotels, conflicts.Load(), reruns.Load())
}
