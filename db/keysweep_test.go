package db_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	evqueries "github.com/evento-lab/evento/queries"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// The sweeper runs every second on every server: with a day of live keys
// (none due), its statement must walk the expiry index to the first key
// not due, not read them all.
func TestKeySweepWalksTheExpiryIndex(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 2)
	ctx := testContext(t)
	if _, err := pool.Exec(ctx, `
		INSERT INTO idempotency_keys (key, fingerprint, reservation_id, expires_at)
		SELECT 'k-' || n, 'reserve', n, clock_timestamp() + interval '1 day'
		  FROM generate_series(1, 20000) AS n;
		ANALYZE idempotency_keys`); err != nil {
		t.Fatal(err)
	}
	stmt, ok := evqueries.Statement("idempotency.sql", "SweepIdempotencyKeys")
	if !ok {
		t.Fatal("no SweepIdempotencyKeys in queries/idempotency.sql")
	}
	if plan := explain(t, pool, strings.ReplaceAll(stmt, "@batch_size::integer", "1000")); !strings.Contains(plan, "Index Cond: (expires_at <=") {
		t.Fatalf("the sweep does not bound its scan by the expiry index:\n%s", plan)
	}
}

// The same for the bookings' keys on their reservations: the sweep walks
// the reservations' key expiry index, beside a day of live keys and of
// unkeyed reservations, which that partial index leaves out, and reads
// no reservation but through an index, with statistics or without.
func TestReservationKeySweepWalksTheExpiryIndex(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 2)
	ctx := testContext(t)
	hotel := seedHotel(t, pool, 10)
	if _, err := pool.Exec(ctx, `
		INSERT INTO reservations (name, event_hotel_rooms_id, number, idempotency_key, key_fingerprint, key_expires_at)
		SELECT 'r', ehr.id, 1,
		       CASE WHEN n % 2 = 0 THEN 'k-' || n END,
		       CASE WHEN n % 2 = 0 THEN 'reserve' END,
		       CASE WHEN n % 2 = 0 THEN clock_timestamp() + interval '1 day' END
		  FROM event_hotel_rooms AS ehr, generate_series(1, 40000) AS n
		 WHERE ehr.event_id = $1 AND ehr.hotel_id = $2`, hotel.EventID, hotel.HotelID); err != nil {
		t.Fatal(err)
	}
	stmt, ok := evqueries.Statement("idempotency.sql", "SweepReservationKeys")
	if !ok {
		t.Fatal("no SweepReservationKeys in queries/idempotency.sql")
	}
	// Before the table's first ANALYZE (a sale's first minutes), and after.
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, err := pool.Exec(ctx, "ANALYZE reservations"); err != nil {
				t.Fatal(err)
			}
		}
		plan := explain(t, pool, strings.ReplaceAll(stmt, "@batch_size::integer", "1000"))
		if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "Index Cond: (key_expires_at <=") {
			t.Fatalf("analyzed %v: the sweep does not bound its scans by the indexes:\n%s", analyzed, plan)
		}
	}
}

// The sweeper clears a booking's key past its retention from its
// reservation, which stays, and leaves a live one; the key is then a new
// key, and books afresh.
func TestSweeperClearsExpiredReservationKeys(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 4)
	ctx := testContext(t)
	hotel := seedHotel(t, pool, 10)
	store := newStore(pool)
	old, live := idemKey("swept", "reserve 1"), idemKey("kept", "reserve 1")
	for _, k := range []*evento.IdempotencyKey{old, live} {
		if _, err := store.Reserve(ctx, "atomic", hotel.request(k.Key, 1), k); err != nil {
			t.Fatal(err)
		}
	}
	expireKey(t, pool, old.Key)
	if err := (db.Sweeper{Store: store, Log: slog.New(slog.DiscardHandler)}).SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := keyedRows(t, pool, old.Key); n != 0 {
		t.Fatalf("the expired key is still kept (%d)", n)
	}
	if n := keyedRows(t, pool, live.Key); n != 1 {
		t.Fatalf("the live key is kept %d times; want once", n)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 {
		t.Fatalf("totals %+v; want both reservations kept", totals)
	}
	again, err := store.Reserve(ctx, "atomic", hotel.request(old.Key, 1), old)
	if err != nil || again.Replayed {
		t.Fatalf("the swept key: %+v %v; want a fresh booking", again, err)
	}
}

// explain is PostgreSQL's plan of stmt, one line a node.
func explain(t *testing.T, pool *pgxpool.Pool, stmt string) string {
	t.Helper()
	rows, err := pool.Query(testContext(t), "EXPLAIN "+stmt)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// So must the holds' two sweeps, beside a day of live holds (none overdue)
// and of ended ones (none old enough to delete): each statement walks its
// index to the first row not due, where a bound the planner cannot use
// (clock_timestamp(), volatile) read every row of the index, every second.
func TestHoldSweepsWalkTheirIndexes(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 2)
	ctx := testContext(t)
	hotel := seedHotel(t, pool, 10)
	if _, err := pool.Exec(ctx, `
		INSERT INTO holds (event_hotel_rooms_id, name, rooms, state, expires_at, settled_at, handle)
		SELECT ehr.id, 'h', 1,
		       CASE WHEN n % 2 = 0 THEN 'held' ELSE 'released' END,
		       clock_timestamp() + interval '1 day',
		       CASE WHEN n % 2 = 0 THEN NULL ELSE clock_timestamp() END,
		       'hold_sweep_' || n
		  FROM event_hotel_rooms AS ehr, generate_series(1, 20000) AS n
		 WHERE ehr.event_id = $1 AND ehr.hotel_id = $2`, hotel.EventID, hotel.HotelID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE holds"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, bound string }{
		{"SweepExpiredHolds", "Index Cond: (expires_at <="},
		{"SweepFinishedHolds", "Index Cond: (settled_at <="},
	} {
		stmt, ok := evqueries.Statement("holds.sql", c.name)
		if !ok {
			t.Fatalf("no %s in queries/holds.sql", c.name)
		}
		stmt = strings.NewReplacer("@batch_size::integer", "1000", "@keep_seconds::double precision", "86400").Replace(stmt)
		plan := explain(t, pool, stmt)
		if !strings.Contains(plan, c.bound) {
			t.Errorf("%s does not bound its scan by its index:\n%s", c.name, plan)
		}
	}
}
