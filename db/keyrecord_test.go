package db_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// Under READ COMMITTED a key's row is written once, after the booking
// (queries/idempotency.sql): these tests drive two transactions with the
// same key statement by statement, as the engine runs them.

// record stores booking as key's outcome, as the engine does before COMMIT.
func record(t *testing.T, tx dbsqlc.DBTX, key *evento.IdempotencyKey, booking evento.Booking) error {
	t.Helper()
	return queries.RecordIdempotencyOutcomes(testContext(t), tx, dbsqlc.RecordIdempotencyOutcomesParams{
		Keys: []string{key.Key}, Fingerprints: []string{key.Fingerprint},
		Outcomes: [][]byte{nil}, ReservationIds: []int64{booking.ReservationID}, TtlSeconds: 3600,
	})
}

func lockKey(t *testing.T, tx dbsqlc.DBTX, key *evento.IdempotencyKey) []dbsqlc.LockIdempotencyKeysRow {
	t.Helper()
	rows, err := queries.LockIdempotencyKeys(testContext(t), tx, []string{key.Key})
	if err != nil {
		t.Fatalf("lock %s: %v", key.Key, err)
	}
	return rows
}

// A locks the key; B, the same key, does not get it (busy: the engine
// waits outside any transaction); A books, records and commits; B, again,
// gets the key, finds it used and replays A's booking. One booking.
func TestKeyLockedBooksOnceStepByStep(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 4)
	hotel := seedHotel(t, pool, 10)
	ctx := testContext(t)
	key := idemKey("step", "reserve 2")
	atomic, _ := db.LookupStrategy("atomic")

	a := begin(t, pool)
	if rows := lockKey(t, a.tx, key); len(rows) != 1 || rows[0].Used {
		t.Fatalf("A's lock: %+v; want the key, unused", rows)
	}
	b := begin(t, pool)
	if rows := lockKey(t, b.tx, key); len(rows) != 0 {
		t.Fatalf("B's lock while A holds the key: %+v; want none", rows)
	}
	booking, err := atomic.Book(ctx, db.Statements{Q: queries, Read: a.tx, Write: a.tx}, hotel.request("ada", 2))
	if err != nil {
		t.Fatal(err)
	}
	if err := record(t, a.tx, key, booking); err != nil {
		t.Fatal(err)
	}
	if err := a.tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	again := begin(t, pool)
	if rows := lockKey(t, again.tx, key); len(rows) != 1 || !rows[0].Used {
		t.Fatalf("B's second lock: %+v; want the key, used", rows)
	}
	replayed, _, err := db.StoredBookingOutcome(ctx, again.tx, key.Key)
	if err != nil || replayed.Value != booking {
		t.Fatalf("replay: %+v %v; want %+v", replayed, err, booking)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 {
		t.Fatalf("totals %+v; want A's booking alone", totals)
	}
}

// LockIdempotencyKeys reads under a snapshot older than its lock, so it
// can miss a duplicate committed in between. Pinned here with REPEATABLE
// READ, whose snapshot B takes before A even starts: B gets the lock after
// A's COMMIT, sees no row and books; the INSERT of its key then meets A's
// row and fails, which undoes B's booking. One booking. (B books at
// another hotel: at A's, REPEATABLE READ would refuse B's counter update
// first, and READ COMMITTED's window is inside one statement.)
func TestKeyCommittedAfterTheSnapshotUndoesTheBooking(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 4)
	hotel := seedHotel(t, pool, 10)
	otherHotel := seedHotel(t, pool, 10)
	ctx := testContext(t)
	key := idemKey("late", "reserve 2")
	atomic, _ := db.LookupStrategy("atomic")

	b := beginTx(t, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if _, err := b.tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	a := begin(t, pool)
	lockKey(t, a.tx, key)
	booking, err := atomic.Book(ctx, db.Statements{Q: queries, Read: a.tx, Write: a.tx}, hotel.request("ada", 2))
	if err != nil {
		t.Fatal(err)
	}
	if err := record(t, a.tx, key, booking); err != nil {
		t.Fatal(err)
	}
	if err := a.tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	if rows := lockKey(t, b.tx, key); len(rows) != 1 || rows[0].Used {
		t.Fatalf("B's lock: %+v; want the key, and A's row invisible to B", rows)
	}
	other, err := atomic.Book(ctx, db.Statements{Q: queries, Read: b.tx, Write: b.tx}, otherHotel.request("ada", 2))
	if err != nil {
		t.Fatal(err)
	}
	err = record(t, b.tx, key, other)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.UniqueViolation || pgErr.TableName != "idempotency_keys" {
		t.Fatalf("B's record: %v; want a unique violation on idempotency_keys", err)
	}
	_ = b.tx.Rollback(ctx)
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 {
		t.Fatalf("totals %+v; want A's booking alone", totals)
	}
	if totals := readTotals(t, pool, otherHotel.HotelID); totals.booked != 0 {
		t.Fatalf("other hotel's totals %+v; want B's booking undone", totals)
	}
}

// The engine's side of the race above: a row of the key committed while
// the write ran (after its lock, before its record) undoes the write, which
// runs again and replays that row's booking.
func TestKeyCommittedDuringTheWriteIsReplayed(t *testing.T) {
	t.Parallel()
	for _, strategy := range []string{"atomic", "batched"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			pool := dbtest.NewPool(t, 4)
			hotel := seedHotel(t, pool, 10)
			ctx := testContext(t)
			key := idemKey("planted", "reserve 3")
			base, _ := db.LookupStrategy(strategy)
			atomic, _ := db.LookupStrategy("atomic")
			// The duplicate: a booking committed, with its key, on a
			// connection of its own, the first time the write books.
			var planted evento.Booking
			racer := around(base, func() {
				if planted.ReservationID != 0 {
					return
				}
				tx, err := pool.Begin(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
				if planted, err = atomic.Book(ctx, db.Statements{Q: queries, Read: tx, Write: tx}, hotel.request("ada", 3)); err == nil {
					err = record(t, tx, key, planted)
				}
				if err == nil {
					err = tx.Commit(ctx)
				}
				if err != nil {
					t.Error(err)
				}
			}, func(err error) error { return err })
			racer.Name = "racer"
			store := db.NewStore(pool, db.Options{Strategies: []db.Strategy{racer}})

			got, err := store.Reserve(ctx, "racer", hotel.request("ada", 3), key)
			if err != nil || !got.Replayed || got.Value != planted {
				t.Fatalf("reserve: %+v %v; want %+v replayed", got, err, planted)
			}
			if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 3 {
				t.Fatalf("totals %+v; want the planted booking alone", totals)
			}
		})
	}
}
