package db_test

import (
	"fmt"
	"testing"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/labdb"
)

// BenchmarkReserve times one strategy's booking, one client at a time, on
// a hotel that never sells out: the cost of the SQL and its round trips,
// without HTTP and without contention (evento bench measures those), with
// and without a new idempotency key per booking (the key protocol's own
// cost: claim the key, store the outcome). The test server runs without
// fsync, so compare strategies with each other, not with a durable server.
func BenchmarkReserve(b *testing.B) {
	pool := dbtest.NewPool(b, 4)
	store := newStore(pool)
	for _, keyed := range []bool{false, true} {
		for _, strategy := range db.Strategies {
			b.Run(fmt.Sprintf("%s/key=%v", strategy.Name, keyed), func(b *testing.B) {
				buckets := 0 // 16 for a strategy that books buckets
				if strategy.Buckets {
					buckets = 16
				}
				event, err := labdb.Seed(b.Context(), pool, labdb.SeedSpec{Name: "bench", Hotels: 1, Rooms: 1_000_000_000, Buckets: buckets})
				if err != nil {
					b.Fatal(err)
				}
				req := evento.BookRequest{EventID: event.EventID, HotelID: event.Hotels[0].HotelID, Name: "bench", Rooms: 1}
				i := 0
				for b.Loop() {
					var key *evento.IdempotencyKey
					if keyed {
						i++
						key = idemKey(fmt.Sprintf("%s-%d", strategy.Name, i), "f")
					}
					if _, err := store.Reserve(b.Context(), strategy.Name, req, key); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
