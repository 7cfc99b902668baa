package db_test

import (
	"testing"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// BenchmarkReserve times one strategy's booking transaction, one client
// at a time, on a hotel that never sells out: the cost of the SQL and its
// round trips, without HTTP and without contention (evento bench measures
// those). The test server runs without fsync, so compare strategies with
// each other, not with a durable server.
func BenchmarkReserve(b *testing.B) {
	pool := dbtest.NewPool(b, 4)
	store := newStore(pool)
	for _, strategy := range db.Strategies {
		b.Run(strategy.Name, func(b *testing.B) {
			event, err := db.Seed(b.Context(), pool, db.SeedSpec{Name: "bench", Hotels: 1, Rooms: 1_000_000_000})
			if err != nil {
				b.Fatal(err)
			}
			req := evento.BookRequest{EventID: event.EventID, HotelID: event.Hotels[0].HotelID, Name: "bench", Rooms: 1}
			for b.Loop() {
				if _, err := reserve(b.Context(), store, strategy, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
