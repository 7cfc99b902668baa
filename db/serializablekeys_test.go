package db_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// Under SERIALIZABLE a booking's key is on its reservation, as under READ
// COMMITTED, and its claim looks for the key among bookings only on the
// attempt after a key race (queries/idempotency.sql).

// predicateLocksOnBookings counts the SIREAD locks of the backend pid on
// reservations and its key index.
const predicateLocksOnBookings = `SELECT count(*) FROM pg_locks
	WHERE pid = $1 AND mode = 'SIReadLock'
	  AND relation IN ('reservations'::regclass, 'reservations_idempotency_key_idx'::regclass)`

// A claim that does not look among bookings takes no predicate lock on
// them, under a custom plan and a generic one alike; one that does, does.
func TestKeyClaimWithoutProbeLocksNoBookings(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 3)
	ctx := testContext(t)
	for _, planning := range []string{"force_custom_plan", "force_generic_plan"} {
		for _, probe := range []bool{false, true} {
			tx := beginTx(t, pool, pgx.TxOptions{IsoLevel: pgx.Serializable}).tx
			if _, err := tx.Exec(ctx, "SELECT set_config('plan_cache_mode', $1, true)", planning); err != nil {
				t.Fatal(err)
			}
			key := idemKey("siread-"+planning, "reserve 1")
			if rows := lockKeyProbing(t, tx, key, probe); len(rows) != 1 || rows[0].Used {
				t.Fatalf("%s, probe %v: lock %+v", planning, probe, rows)
			}
			locks := queryInt(t, pool, predicateLocksOnBookings, tx.Conn().PgConn().PID())
			if probe && locks == 0 {
				t.Errorf("%s: the probe took no predicate lock on reservations: is it still run?", planning)
			}
			if !probe && locks != 0 {
				t.Errorf("%s: %d predicate locks on reservations without the probe; want none", planning, locks)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The serializable strategy's keyed booking: its key on its reservation
// and nowhere else; a resend replays it (its INSERT meets the key, and the
// rerun looks for it), even once the hotel is sold out (the resend is
// refused before any INSERT meets the key); the key reused for another
// booking or used by a hold first is refused; a key past its retention
// books afresh.
func TestSerializableKeyedBooking(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 4)
	hotel := seedHotel(t, pool, 10)
	ctx := testContext(t)
	store := newStore(pool)
	key := idemKey("ser-1", "reserve 3")

	first, err := store.Reserve(ctx, "serializable", hotel.request("ada", 3), key)
	if err != nil || first.Replayed || first.Refusal != nil {
		t.Fatalf("first: %+v %v", first, err)
	}
	if n := queryInt(t, pool, `SELECT count(*) FROM idempotency_keys WHERE key = $1`, key.Key); n != 0 {
		t.Errorf("%d rows of idempotency_keys for a serializable booking; want its key on its reservation alone", n)
	}
	if !recordsKey(t, pool, key.Key, first.Value.ReservationID) {
		t.Errorf("the booking's reservation does not record its key")
	}
	again, err := store.Reserve(ctx, "serializable", hotel.request("ada", 3), key)
	if err != nil || !again.Replayed || again.Value != first.Value {
		t.Fatalf("resend: %+v %v; want %+v replayed", again, err, first.Value)
	}

	if _, err := store.Reserve(ctx, "serializable", hotel.request("bob", 7), idemKey("ser-2", "reserve 7")); err != nil {
		t.Fatal(err)
	}
	soldOut, err := store.Reserve(ctx, "serializable", hotel.request("ada", 3), key)
	if err != nil || !soldOut.Replayed || soldOut.Value != first.Value {
		t.Fatalf("resend once sold out: %+v %v; want %+v replayed", soldOut, err, first.Value)
	}
	if _, err := store.Reserve(ctx, "serializable", hotel.request("ada", 4), idemKey("ser-1", "reserve 4")); !errors.Is(err, evento.ErrKeyReused) {
		t.Fatalf("same key, other booking: %v; want key reused", err)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 10 {
		t.Fatalf("totals %+v; want 3 + 7 booked", totals)
	}

	other := seedHotel(t, pool, 10)
	holdKey := idemKey("ser-hold", "hold 1")
	if _, err := valueOf(store.PlaceHold(ctx, evento.HoldRequest{BookRequest: other.request("cy", 1), TTL: time.Hour}, holdKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Reserve(ctx, "serializable", other.request("cy", 1), idemKey("ser-hold", "reserve 1")); !errors.Is(err, evento.ErrKeyReused) {
		t.Fatalf("a hold's key booked: %v; want key reused", err)
	}

	expireKey(t, pool, key.Key)
	fresh, err := store.Reserve(ctx, "serializable", other.request("ada", 3), key)
	if err != nil || fresh.Replayed || fresh.Refusal != nil || fresh.Value.ReservationID == first.Value.ReservationID {
		t.Fatalf("key past its retention: %+v %v; want a fresh booking", fresh, err)
	}
	if !recordsKey(t, pool, key.Key, fresh.Value.ReservationID) {
		t.Errorf("the fresh booking's reservation does not record its key")
	}
	if totals := readTotals(t, pool, other.HotelID); totals.booked != 3 {
		t.Fatalf("other hotel's totals %+v; want the fresh booking of 3 (the hold's room is held, not booked)", totals)
	}
}

// Two keyed serializable bookings at different hotels, both claimed and
// read before either writes: both commit, neither rerun. Looking for the
// keys among bookings (as the attempt after a key race does) makes the
// same two fail each other: each read the key index's page the other's
// INSERT writes, and one of them is rerun after a serialization failure.
func TestSerializableKeyedBookingsDoNotConflict(t *testing.T) {
	t.Parallel()
	for _, probeAlways := range []bool{false, true} {
		name := map[bool]string{false: "claims as the engine does", true: "claims probing bookings"}[probeAlways]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pool := dbtest.NewPool(t, 4)
			hotels := []testHotel{seedHotel(t, pool, 10), seedHotel(t, pool, 10)}
			ctx := testContext(t)
			var reruns atomic.Int32
			store := db.NewStore(pool, db.Options{OnRetry: func(string) { reruns.Add(1) }})
			if probeAlways {
				db.ProbeKeysAlways(store)
			}
			// Each write waits until both bookings reached theirs: both
			// have claimed their keys and read their hotels by then.
			var arrived sync.WaitGroup
			arrived.Add(2)
			writes := make(chan struct{})
			go func() { arrived.Wait(); close(writes) }()
			db.PauseBeforeWrites(store, func(context.Context) {
				select {
				case <-writes:
					return // a rerun
				default:
				}
				arrived.Done()
				<-writes
			})
			answers := []<-chan result{
				reserveAsync(ctx, store, "serializable", hotels[0].request("ada", 2), idemKey("two-1", "reserve 2")),
				reserveAsync(ctx, store, "serializable", hotels[1].request("bob", 2), idemKey("two-2", "reserve 2")),
			}
			for i, answer := range answers {
				if r := receive(t, answer, "booking never answered"); r.err != nil || r.outcome.Replayed || r.outcome.Refusal != nil {
					t.Fatalf("booking %d: %+v", i, r)
				}
			}
			for _, h := range hotels {
				if totals := readTotals(t, pool, h.HotelID); totals.booked != 2 {
					t.Fatalf("totals %+v; want one booking of 2", totals)
				}
			}
			switch n := reruns.Load(); {
			case !probeAlways && n != 0:
				t.Errorf("%d serialization reruns; want none: bookings at different hotels must not fail each other", n)
			case probeAlways && n == 0:
				t.Errorf("no serialization rerun while probing bookings; want one (this test would not see the conflict it guards against)")
			}
		})
	}
}

// The duplicate race step by step, under SERIALIZABLE: B's snapshot is
// taken before A commits the key, and B claims it after. B's claim does
// not look among bookings and owns the key; its reservation's INSERT then
// meets A's key in reservations_idempotency_key_idx, which undoes B's
// booking: PostgreSQL says unique_violation, or serialization failure
// since A committed after B's snapshot. One booking; the engine reruns B
// and replays (TestKeyCommittedDuringTheWriteIsReplayed).
func TestSerializableKeyCommittedAfterTheSnapshotUndoesTheBooking(t *testing.T) {
	t.Parallel()
	race := newLateKey(t, pgx.Serializable)
	ctx := testContext(t)
	key := idemKey("late-ser", "reserve 2")
	serializable := mustStrategy(t, "serializable")
	plantKeyed(t, race.pool, race.hotel, key, 2)

	if rows := lockKeyProbing(t, race.b.tx, key, false); len(rows) != 1 || rows[0].Used {
		t.Fatalf("B's lock: %+v; want the key, unused", rows)
	}
	_, err := serializable.Book(ctx, statementsOn(race.b.tx), race.otherHotel.request("ada", 2))
	race.undone(t, "booking", err)
}

// A serializable duplicate that waited for the request holding its key
// looks for the key among bookings on its rerun, and replays without
// booking again: it never reaches the booking's write (whose INSERT would
// meet the key, and be undone, after locking the hotel's row).
func TestSerializableDuplicateReplaysAfterWaiting(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 6)
	hotel := seedHotel(t, pool, 10)
	duplicate := newStore(pool)
	var writes atomic.Int32
	db.PauseBeforeWrites(duplicate, func(context.Context) { writes.Add(1) })
	first, second, release := duplicateWaiting(t, pool, mustStrategy(t, "serializable"), duplicate, hotel.request("alice", 1), idemKey("dup-ser", "reserve 1"))
	close(release)
	a := receive(t, first, "first never answered")
	if a.err != nil || a.outcome.Replayed {
		t.Fatalf("first: %+v", a)
	}
	d := receive(t, second, "duplicate never answered")
	if d.err != nil || !d.outcome.Replayed || d.outcome.Value != a.outcome.Value {
		t.Fatalf("duplicate: %+v; want %+v replayed", d, a.outcome.Value)
	}
	if n := writes.Load(); n != 0 {
		t.Errorf("the duplicate reached the booking's write %d times; want none: after waiting it looks for the key first", n)
	}
}
