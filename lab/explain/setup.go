package explain

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db/labdb"
)

// truncate empties every table a run touches and restarts their ids, so
// that every run (and every spec) starts from the same rows with the same
// ids and prints the same. It is why explain runs in a database of its
// own (see Target).
const truncate = "TRUNCATE reservations, holds, idempotency_keys, room_buckets, event_hotel_rooms, hotels, events, api_clients RESTART IDENTITY CASCADE;"

// fixedStamp is the hotel's updated_at at the start of every run. Being in
// the future, every write stamps it + 1 µs (every strategy writes
// greatest(clock_timestamp(), updated_at + 1 µs)), so the stamps printed
// are the same on every run, and optimistic's compare-and-swap compares
// exactly what it would compare with a real clock.
const fixedStamp = "2100-01-01 00:00:00+00"

// The tiny hotel: its ids are the same in every run, as truncate restarts them.
const (
	eventName               = "explain"
	eventID, hotelID, ehrID = 1, 1, 1
)

// reset empties the database and seeds the tiny hotel with db/labdb.Seed,
// in buckets when the subject books them. For the spec's setup block, it
// returns the same rows as queries/seed.sql's statements (the ones Seed
// runs) bound to what Seed was given; the last returns no rows, as
// isolationtester prints only the last result of a block.
func reset(ctx context.Context, pool *pgxpool.Pool, sc Scenario, buckets int) ([]string, error) {
	if _, err := pool.Exec(ctx, truncate); err != nil {
		return nil, fmt.Errorf("empty the explain database: %w", err)
	}
	seeded, err := labdb.Seed(ctx, pool, labdb.SeedSpec{Name: eventName, Hotels: 1, Rooms: Rooms, Buckets: buckets})
	if err != nil {
		return nil, err
	}
	h := seeded.Hotels[0]
	if seeded.EventID != eventID || h.HotelID != hotelID {
		return nil, fmt.Errorf("seeded event %d, hotel %d after RESTART IDENTITY: something else writes to the explain database", seeded.EventID, h.HotelID)
	}
	statements := []Stmt{
		raw(truncate),
		mustNamed("CreateEvent", map[string]any{"name": eventName}),
		mustNamed("CreateHotel", map[string]any{"name": h.Name}),
		mustNamed("AssignRooms", map[string]any{"event_id": eventID, "hotel_id": hotelID, "assigned": h.Rooms}),
	}
	if buckets > 0 {
		statements = append(statements, mustNamed("SplitIntoBuckets", map[string]any{"event_hotel_rooms_id": ehrID, "buckets": buckets}))
	}
	var extra []Stmt
	if sc.holdRooms > 0 {
		extra = append(extra, mustNamed("PlaceHold", map[string]any{
			"event_id": eventID, "hotel_id": hotelID, "rooms": sc.holdRooms, "name": "carol",
			"ttl_seconds": 3600, "client_id": nil, "handle": holdHandle,
		}))
	}
	extra = append(extra, raw("UPDATE event_hotel_rooms SET updated_at = '"+fixedStamp+"';"))
	for _, s := range extra {
		if _, err := pool.Exec(ctx, s.SQL); err != nil {
			return nil, fmt.Errorf("set up %s: %w", strings.TrimSuffix(s.Name+" "+oneLine(s.SQL), " "), err)
		}
	}
	var sql []string
	for _, s := range append(statements, extra...) {
		sql = append(sql, s.SQL)
	}
	return sql, nil
}
