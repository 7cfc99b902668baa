package db_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
	"github.com/evento-lab/evento/db/labdb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// otherPool is a pool of its own on pool's database: sessions a test holds
// locks with, or looks on from, while pool's are busy or ended.
func otherPool(t *testing.T, pool *pgxpool.Pool) *pgxpool.Pool {
	t.Helper()
	other, err := pgxpool.New(testContext(t), pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	return other
}

// poolWith is a pool of conns connections to url, each configured by
// configure (when set) before it connects.
func poolWith(t *testing.T, url string, conns int32, configure func(*pgx.ConnConfig)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = conns
	if configure != nil {
		configure(cfg.ConnConfig)
	}
	pool, err := pgxpool.NewWithConfig(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

type testHotel struct{ EventID, HotelID int64 }

// request asks for rooms at this hotel.
func (h testHotel) request(name string, rooms int32) evento.BookRequest {
	return evento.BookRequest{EventID: h.EventID, HotelID: h.HotelID, Name: name, Rooms: rooms}
}

// seedHotel creates an event with one hotel of the given rooms.
func seedHotel(t *testing.T, pool *pgxpool.Pool, rooms int32) testHotel {
	t.Helper()
	return seedBuckets(t, pool, rooms, 0)
}

// testBuckets is how many bucket rows a test hotel of a strategy that
// books buckets gets: fewer than the rooms of most tests, so that the last
// rooms end up scattered over several buckets.
const testBuckets = 4

// seedBuckets creates an event with one hotel of the given rooms, split
// into that many buckets (none: 0).
func seedBuckets(t *testing.T, pool *pgxpool.Pool, rooms int32, buckets int) testHotel {
	t.Helper()
	event, err := labdb.Seed(testContext(t), pool, labdb.SeedSpec{Name: t.Name(), Hotels: 1, Rooms: rooms, Buckets: buckets})
	if err != nil {
		t.Fatal(err)
	}
	return testHotel{EventID: event.EventID, HotelID: event.Hotels[0].HotelID}
}

// hotelTotals is what the database holds for a hotel: the counter and the
// sum of its live reservation rows (a cancel gave the others' rooms back),
// which a lost update makes disagree.
type hotelTotals struct {
	assigned, reserved, booked int32
	reservationIDs             map[int64]int32
}

func readTotals(t *testing.T, pool *pgxpool.Pool, hotelID int64) hotelTotals {
	t.Helper()
	ctx := testContext(t)
	totals := hotelTotals{reservationIDs: map[int64]int32{}}
	// A sharded hotel's counters are its row's plus its buckets'.
	err := pool.QueryRow(ctx, `
		SELECT ehr.assigned + coalesce(sum(rb.assigned), 0), ehr.reserved + coalesce(sum(rb.reserved), 0)
		  FROM event_hotel_rooms ehr LEFT JOIN room_buckets rb ON rb.event_hotel_rooms_id = ehr.id
		 WHERE ehr.hotel_id = $1 GROUP BY ehr.id`, hotelID,
	).Scan(&totals.assigned, &totals.reserved)
	if err != nil {
		t.Fatalf("read counter: %v", err)
	}
	rows, _ := pool.Query(ctx, `
		SELECT r.id, r.number FROM reservations r
		JOIN event_hotel_rooms ehr ON ehr.id = r.event_hotel_rooms_id
		WHERE ehr.hotel_id = $1 AND r.cancelled_at IS NULL`, hotelID)
	var id int64
	var n int32
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		totals.reservationIDs[id] = n
		totals.booked += n
		return nil
	})
	if err != nil {
		t.Fatalf("read reservations: %v", err)
	}
	return totals
}

func mustStrategy(t *testing.T, name string) db.Strategy {
	t.Helper()
	s, ok := db.LookupStrategy(name)
	if !ok {
		t.Fatalf("no strategy %q", name)
	}
	return s
}

// queryInt is the answer of a query for one number.
func queryInt(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(testContext(t), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually returns once cond holds, which it checks every 5 ms, and
// fails the test with failure after 10 s.
func eventually(t *testing.T, failure string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal(failure)
}

// waitFor returns once the count query answers at least n.
func waitFor(t *testing.T, pool *pgxpool.Pool, n int, failure, count string, args ...any) {
	t.Helper()
	eventually(t, failure, func() bool { return queryInt(t, pool, count, args...) >= n })
}

// receive is the next value sent on ch, which must come within 10 s.
func receive[T any](t *testing.T, ch <-chan T, failure string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal(failure)
		var zero T
		return zero
	}
}

// idemKey is an idempotency key kept for an hour.
func idemKey(key, fingerprint string) *evento.IdempotencyKey {
	return &evento.IdempotencyKey{Key: key, Fingerprint: fingerprint, Keep: time.Hour}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// queries are sqlc's statements, for tests that drive them one by one.
var queries = dbsqlc.New()

// statementsOn sends every statement of a booking to conn, none of them
// carrying a COMMIT (no Last): the test ends its transaction itself.
func statementsOn(conn dbsqlc.DBTX) db.Statements {
	return db.Statements{Q: queries, Read: conn, Write: conn}
}

// newStore serves every strategy on pool, as one server does.
func newStore(pool *pgxpool.Pool) *db.Store { return db.NewStore(pool, db.Options{}) }

// valueOf is an outcome's value, with a final refusal returned as the error.
func valueOf[T any](outcome evento.Outcome[T], err error) (T, error) {
	if err == nil && outcome.Refusal != nil {
		return outcome.Value, outcome.Refusal
	}
	return outcome.Value, err
}

func reserve(ctx context.Context, store *db.Store, strategy db.Strategy, req evento.BookRequest) (evento.Booking, error) {
	return valueOf(store.Reserve(ctx, strategy.Name, req, nil))
}

func placeHold(ctx context.Context, store *db.Store, req evento.HoldRequest) (evento.Hold, error) {
	return valueOf(store.PlaceHold(ctx, req, nil))
}

// mustHold places a hold of rooms for name at hotel, which must succeed.
func mustHold(t *testing.T, store *db.Store, hotel testHotel, name string, rooms int32, ttl time.Duration) evento.Hold {
	t.Helper()
	h, err := placeHold(testContext(t), store, evento.HoldRequest{BookRequest: hotel.request(name, rooms), TTL: ttl})
	if err != nil {
		t.Fatalf("hold %d for %s: %v", rooms, name, err)
	}
	return h
}

// confirmHold also says whether the hold had been confirmed before.
func confirmHold(ctx context.Context, store *db.Store, ref evento.HoldRef) (evento.Confirmation, bool, error) {
	c, err := valueOf(store.ConfirmHold(ctx, ref, nil))
	return c, c.Earlier, err
}

// sweep runs one sweeper statement on tx and counts the holds it expired.
func sweep(ctx context.Context, tx dbsqlc.DBTX) (int64, error) {
	rows, err := queries.SweepExpiredHolds(ctx, tx, 100)
	var holds int64
	for _, r := range rows {
		holds += r.Holds
	}
	return holds, err
}

// result is a reserve's outcome and error, sent across goroutines.
type result struct {
	outcome evento.Outcome[evento.Booking]
	err     error
}

// reserveAsync runs store.Reserve in the background; its result arrives on
// the channel.
func reserveAsync(ctx context.Context, store *db.Store, mode string, req evento.BookRequest, key *evento.IdempotencyKey) <-chan result {
	out := make(chan result, 1)
	go func() {
		outcome, err := store.Reserve(ctx, mode, req, key)
		out <- result{outcome, err}
	}()
	return out
}

// testBundle is the world a data-layer test works in, as River's test
// bundles are: a database of its own with one seeded hotel, and a context
// that ends with the test.
type testBundle struct {
	pool  *pgxpool.Pool
	hotel testHotel
	ctx   context.Context
}

// setup gives a test a fresh database of conns connections, a hotel of
// rooms rooms, and a store serving every strategy on it, as one server
// does. Tests that need other store options build their own on
// bundle.pool.
func setup(t *testing.T, conns, rooms int32) (*db.Store, *testBundle) {
	t.Helper()
	return setupFor(t, db.Strategy{}, conns, rooms)
}

// setupFor is setup with the hotel laid out for strategy (seedHotelFor).
func setupFor(t *testing.T, strategy db.Strategy, conns, rooms int32) (*db.Store, *testBundle) {
	t.Helper()
	pool := dbtest.NewPool(t, conns)
	return newStore(pool), &testBundle{pool: pool, hotel: seedHotelFor(t, pool, strategy, rooms), ctx: testContext(t)}
}

// seedHotelFor is seedHotel laid out for strategy: split into testBuckets
// buckets for one that books buckets.
func seedHotelFor(t *testing.T, pool *pgxpool.Pool, strategy db.Strategy, rooms int32) testHotel {
	t.Helper()
	if strategy.Buckets {
		return seedBuckets(t, pool, rooms, testBuckets)
	}
	return seedHotel(t, pool, rooms)
}

// keyedRows counts what keeps key: rows of idempotency_keys and
// reservations recording it.
func keyedRows(t *testing.T, pool *pgxpool.Pool, key string) int {
	t.Helper()
	return queryInt(t, pool, `SELECT (SELECT count(*) FROM idempotency_keys WHERE key = $1)
	                               + (SELECT count(*) FROM reservations WHERE idempotency_key = $1)`, key)
}

// recordsKey says whether reservation id records key, where a replay
// finds it.
func recordsKey(t *testing.T, pool *pgxpool.Pool, key string, id int64) bool {
	t.Helper()
	return queryInt(t, pool, `SELECT count(*) FROM reservations WHERE idempotency_key = $1 AND id = $2`, key, id) == 1
}

// expireKey ends key's retention, wherever it is kept.
func expireKey(t *testing.T, pool *pgxpool.Pool, key string) {
	t.Helper()
	ctx := testContext(t)
	if _, err := pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = clock_timestamp() - interval '1 second' WHERE key = $1`, key); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE reservations SET key_expires_at = clock_timestamp() - interval '1 second' WHERE idempotency_key = $1`, key); err != nil {
		t.Fatal(err)
	}
}
