package db_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// Under READ COMMITTED a booking's key is written once, on its reservation,
// by the booking's own INSERT (queries/idempotency.sql): these tests drive
// two transactions with the same key statement by statement, as the
// engine runs them.

// lockKey locks key for a transaction of one booking, as the engine does
// under READ COMMITTED: the reservation the transaction inserts then
// records the key.
func lockKey(t *testing.T, tx dbsqlc.DBTX, key *evento.IdempotencyKey) []dbsqlc.LockIdempotencyKeysRow {
	t.Helper()
	return lockKeyProbing(t, tx, key, true)
}

// lockKeyProbing is lockKey, looking for the key among bookings or not:
// under SERIALIZABLE the engine looks only on the attempt after a key race.
func lockKeyProbing(t *testing.T, tx dbsqlc.DBTX, key *evento.IdempotencyKey, probeBookings bool) []dbsqlc.LockIdempotencyKeysRow {
	t.Helper()
	rows, err := queries.LockIdempotencyKeys(testContext(t), tx, dbsqlc.LockIdempotencyKeysParams{
		Keys: []string{key.Key}, BookingKey: key.Key, BookingFingerprint: key.Fingerprint, BookingKeepSeconds: 3600,
		ProbeBookings: probeBookings,
	})
	if err != nil {
		t.Fatalf("lock %s: %v", key.Key, err)
	}
	return rows
}

// plantKeyed commits a booking with key at hotel on a connection of its
// own, without the key's lock: a duplicate that committed unseen.
func plantKeyed(t *testing.T, pool *pgxpool.Pool, hotel testHotel, key *evento.IdempotencyKey, rooms int32) evento.Booking {
	t.Helper()
	ctx := testContext(t)
	batched := mustStrategy(t, "batched")
	outcomes, err := batched.BookBatch(ctx, statementsOn(pool),
		[]evento.BookRequest{hotel.request("ada", rooms)}, []*evento.IdempotencyKey{key})
	if err != nil || len(outcomes) != 1 || !outcomes[0].Kept() {
		t.Fatalf("plant %s: %+v %v", key.Key, outcomes, err)
	}
	return outcomes[0].Value
}

// A locks the key; B, the same key, does not get it (busy: the engine
// waits outside any transaction); A books, its reservation recording the
// key, and commits; B, again, gets the key, finds it used and replays A's
// booking. One booking.
func TestKeyLockedBooksOnceStepByStep(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 4)
	hotel := seedHotel(t, pool, 10)
	ctx := testContext(t)
	key := idemKey("step", "reserve 2")
	atomic := mustStrategy(t, "atomic")

	a := begin(t, pool)
	if rows := lockKey(t, a.tx, key); len(rows) != 1 || rows[0].Used {
		t.Fatalf("A's lock: %+v; want the key, unused", rows)
	}
	b := begin(t, pool)
	if rows := lockKey(t, b.tx, key); len(rows) != 0 {
		t.Fatalf("B's lock while A holds the key: %+v; want none", rows)
	}
	booking, err := atomic.Book(ctx, statementsOn(a.tx), hotel.request("ada", 2))
	if err != nil {
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
// A's COMMIT, sees no key and books; its reservation's INSERT then meets
// A's key in reservations_idempotency_key_idx and fails, which undoes B's
// booking. One booking. (B books at another hotel: at A's, REPEATABLE READ
// would refuse B's counter update first, and READ COMMITTED's window is
// inside one statement.)
func TestKeyCommittedAfterTheSnapshotUndoesTheBooking(t *testing.T) {
	t.Parallel()
	race := newLateKey(t, pgx.RepeatableRead)
	ctx := testContext(t)
	key := idemKey("late", "reserve 2")
	atomic := mustStrategy(t, "atomic")

	a := begin(t, race.pool)
	lockKey(t, a.tx, key)
	if _, err := atomic.Book(ctx, statementsOn(a.tx), race.hotel.request("ada", 2)); err != nil {
		t.Fatal(err)
	}
	if err := a.tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	if rows := lockKey(t, race.b.tx, key); len(rows) != 1 || rows[0].Used {
		t.Fatalf("B's lock: %+v; want the key, and A's key invisible to B", rows)
	}
	_, err := atomic.Book(ctx, statementsOn(race.b.tx), race.otherHotel.request("ada", 2))
	race.undone(t, "booking", err)
	if totals := readTotals(t, race.pool, race.hotel.HotelID); totals.booked != 2 {
		t.Fatalf("totals %+v; want A's booking alone", totals)
	}
}

// A batch meets the race the same way: B's batch of two, one of them with
// the key A committed unseen, fails whole on the key's index, and neither
// of its bookings stays.
func TestKeyCommittedAfterTheSnapshotUndoesTheBatch(t *testing.T) {
	t.Parallel()
	race := newLateKey(t, pgx.RepeatableRead)
	ctx := testContext(t)
	key := idemKey("late-batch", "reserve 2")
	batched := mustStrategy(t, "batched")
	plantKeyed(t, race.pool, race.hotel, key, 2)

	other := idemKey("late-batch-other", "reserve 1")
	rows, err := queries.LockIdempotencyKeys(ctx, race.b.tx, dbsqlc.LockIdempotencyKeysParams{Keys: []string{other.Key, key.Key}, ProbeBookings: true})
	if err != nil || len(rows) != 2 || rows[0].Used || rows[1].Used {
		t.Fatalf("B's lock: %+v %v; want both keys, A's invisible to B", rows, err)
	}
	_, err = batched.BookBatch(ctx, statementsOn(race.b.tx),
		[]evento.BookRequest{race.otherHotel.request("bob", 1), race.otherHotel.request("ada", 2)}, []*evento.IdempotencyKey{other, key})
	race.undone(t, "batch", err)
}

// lateKey is the setting of the race above: a database with two hotels,
// A's key committed at hotel, and B's transaction, whose snapshot was
// taken before, booking at otherHotel.
type lateKey struct {
	pool              *pgxpool.Pool
	hotel, otherHotel testHotel
	isolation         pgx.TxIsoLevel
	b                 *session
}

// newLateKey seeds the hotels and begins B's transaction at isolation,
// its snapshot taken: A's key, committed next, is invisible to B.
func newLateKey(t *testing.T, isolation pgx.TxIsoLevel) lateKey {
	t.Helper()
	pool := dbtest.NewPool(t, 4)
	race := lateKey{pool: pool, hotel: seedHotel(t, pool, 10), otherHotel: seedHotel(t, pool, 10), isolation: isolation}
	race.b = beginTx(t, pool, pgx.TxOptions{IsoLevel: isolation})
	if _, err := race.b.tx.Exec(testContext(t), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	return race
}

// undone checks that err, B's booking or batch (what), is its INSERT
// meeting A's key in reservations_idempotency_key_idx (under SERIALIZABLE
// PostgreSQL may say serialization failure instead, A having committed
// after B's snapshot), and that once B is rolled back nothing of it stays
// at the other hotel.
func (race lateKey) undone(t *testing.T, what string, err error) {
	t.Helper()
	serializable := race.isolation == pgx.Serializable
	var pgErr *pgconn.PgError
	raced := errors.As(err, &pgErr) &&
		(pgErr.Code == pgerrcode.UniqueViolation && pgErr.ConstraintName == "reservations_idempotency_key_idx" ||
			serializable && pgErr.Code == pgerrcode.SerializationFailure)
	if !raced {
		want := "a unique violation on reservations_idempotency_key_idx"
		if serializable {
			want += " or a serialization failure"
		}
		t.Fatalf("B's %s: %v; want %s", what, err, want)
	}
	_ = race.b.tx.Rollback(testContext(t))
	if totals := readTotals(t, race.pool, race.otherHotel.HotelID); totals.booked != 0 {
		t.Fatalf("other hotel's totals %+v; want B's %s undone", totals, what)
	}
}

// The engine's side of the race above: a key committed while the write ran
// (after its lock, before its booking's INSERT) undoes the write, which
// runs again and replays that key's booking. Under SERIALIZABLE the
// duplicate is planted at the write's hotel (the write's counter update
// fails first, and its rerun's INSERT meets the key) and at another one
// (the INSERT meets the key at once).
func TestKeyCommittedDuringTheWriteIsReplayed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		strategy       string
		plantElsewhere bool
	}{{"atomic", false}, {"batched", false}, {"serializable", false}, {"serializable", true}} {
		t.Run(fmt.Sprintf("%s/planted elsewhere %v", c.strategy, c.plantElsewhere), func(t *testing.T) {
			t.Parallel()
			pool := dbtest.NewPool(t, 4)
			hotel := seedHotel(t, pool, 10)
			plantAt := hotel
			if c.plantElsewhere {
				plantAt = seedHotel(t, pool, 10)
			}
			ctx := testContext(t)
			key := idemKey("planted", "reserve 3")
			base := mustStrategy(t, c.strategy)
			// The duplicate: a booking committed, with its key, on a
			// connection of its own, the first time the write books.
			var planted evento.Booking
			racer := around(base, func() {
				if planted.ReservationID == 0 {
					planted = plantKeyed(t, pool, plantAt, key, 3)
				}
			}, func(err error) error { return err })
			racer.Name = "racer"
			store := db.NewStore(pool, db.Options{Strategies: []db.Strategy{racer}})

			got, err := store.Reserve(ctx, "racer", hotel.request("ada", 3), key)
			if err != nil || !got.Replayed || got.Value != planted {
				t.Fatalf("reserve: %+v %v; want %+v replayed", got, err, planted)
			}
			if totals := readTotals(t, pool, plantAt.HotelID); totals.booked != 3 {
				t.Fatalf("totals %+v; want the planted booking alone", totals)
			}
			if totals := readTotals(t, pool, hotel.HotelID); c.plantElsewhere && totals.booked != 0 {
				t.Fatalf("the write's hotel: totals %+v; want its booking undone", totals)
			}
		})
	}
}
