package db_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// The fast path of a keyed atomic booking (Strategy.BookKeyed, see
// db/reserve.go): one autocommit statement that claims the key, books and
// records the reservation under the key, or commits nothing and leaves
// the request to the general path.
//
// These tests run one after another, before the package's parallel tests
// start: queued among them they would delay the parallel subtests of
// TestExpiredHoldFreesRoomsBeforeAnySweep past the 60 s its shared context
// lasts on a busy 2-core machine.

func fastKey(k string) evento.IdempotencyKey {
	return evento.IdempotencyKey{Key: k, Fingerprint: "reserve " + k, Keep: time.Hour}
}

// forKeyed runs test for each strategy with a fast path
// (Strategy.BookKeyed), as a subtest of its own.
func forKeyed(t *testing.T, test func(*testing.T, db.Strategy)) {
	for _, s := range db.Strategies {
		if s.BookKeyed != nil {
			t.Run(s.Name, func(t *testing.T) { test(t, s) })
		}
	}
}

// fastRun is a strategy's fast-path statement running in the background on
// a connection of its own (autocommit); its pid names it in
// pg_stat_activity.
type fastRun struct {
	pid  uint32
	done chan fastResult
}

type fastResult struct {
	booking evento.Booking
	booked  bool
	err     error
}

func startBookKeyed(t *testing.T, pool *pgxpool.Pool, strategy db.Strategy, req evento.BookRequest, key evento.IdempotencyKey) fastRun {
	t.Helper()
	ctx := testContext(t)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run := fastRun{pid: conn.Conn().PgConn().PID(), done: make(chan fastResult, 1)}
	go func() {
		defer conn.Release()
		st := statementsOn(conn)
		b, booked, err := strategy.BookKeyed(ctx, st, req, key)
		run.done <- fastResult{b, booked, err}
	}()
	return run
}

// finishesWithoutWaiting returns the run's result, and fails the test as
// soon as PostgreSQL shows the run waiting for a lock: the fast path must
// never queue behind a request that holds its key.
func (r fastRun) finishesWithoutWaiting(t *testing.T, pool *pgxpool.Pool) (res fastResult) {
	t.Helper()
	eventually(t, "the fast path never finished", func() bool {
		select {
		case res = <-r.done:
			return true
		default:
		}
		if queryInt(t, pool, waitingForALock, int32(r.pid)) > 0 {
			t.Fatal("the fast path waited for a lock held by the request that holds its key")
		}
		return false
	})
	return res
}

func (r fastRun) wait(t *testing.T) fastResult {
	t.Helper()
	return receive(t, r.done, "the fast path never finished")
}

// waitBlocked returns once PostgreSQL shows the run waiting for a lock.
func (r fastRun) waitBlocked(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	waitFor(t, pool, 1, "the fast path never waited for the hotel's row", waitingForALock, int32(r.pid))
}

// lockRows runs the locking query in an open transaction and holds its
// locks until the returned function commits it: a booking in flight, as
// long as the test wants.
func lockRows(t *testing.T, pool *pgxpool.Pool, query string, args ...any) (release func()) {
	t.Helper()
	s := begin(t, pool)
	if _, err := s.tx.Exec(testContext(t), query, args...); err != nil {
		t.Fatal(err)
	}
	return s.commit
}

// lockHotelRow holds the hotel's row lock until release.
func lockHotelRow(t *testing.T, pool *pgxpool.Pool, hotel testHotel) (release func()) {
	t.Helper()
	return lockRows(t, pool, `SELECT 1 FROM event_hotel_rooms WHERE hotel_id = $1 FOR UPDATE`, hotel.HotelID)
}

// storedOutcome reads a key's stored outcome as a replay reads it, and
// says what the row holds.
func storedOutcome(t *testing.T, pool *pgxpool.Pool, key string) (evento.Outcome[evento.Booking], string) {
	t.Helper()
	o, stored, err := db.StoredBookingOutcome(testContext(t), pool, key)
	if err != nil {
		t.Fatal(err)
	}
	return o, stored
}

// assertStoredAsTheReservation checks that a fast-path statement stored
// booking under key as the general path stores a booking: on its
// reservation, which a replay turns back into booking.
func assertStoredAsTheReservation(t *testing.T, pool *pgxpool.Pool, key string, booking evento.Booking) {
	t.Helper()
	replayed, stored := storedOutcome(t, pool, key)
	want := evento.Done(booking)
	if replayed.Value != want.Value || replayed.Refusal != nil || replayed.Replayed {
		t.Fatalf("the key stores %s, which replays as %+v; want %+v", stored, replayed, want)
	}
	if !recordsKey(t, pool, key, booking.ReservationID) {
		t.Fatalf("the key stores %s: not on the reservation", stored)
	}
	if n := queryInt(t, pool, `SELECT count(*) FROM idempotency_keys WHERE key = $1`, key); n != 0 {
		t.Fatalf("the key stores %s, and %d rows of idempotency_keys besides", stored, n)
	}
}

// The outcome the statement stores replays as the very booking it made. A
// name that JSON must escape makes sure nothing is lost on the way.
func TestFastPathOutcomeReplaysAsTheBooking(t *testing.T) {
	forKeyed(t, testFastPathOutcomeReplaysAsTheBooking)
}

func testFastPathOutcomeReplaysAsTheBooking(t *testing.T, strategy db.Strategy) {
	_, bundle := setupFor(t, strategy, 4, 10)
	ctx, pool := bundle.ctx, bundle.pool
	req := bundle.hotel.request("Zoë \"Q\" <o'neil> & \\ \u2028 日本", 2)
	res := startBookKeyed(t, pool, strategy, req, fastKey("codec")).wait(t)
	if res.err != nil || !res.booked {
		t.Fatalf("fast path: %+v", res)
	}
	if res.booking.Name != req.Name || res.booking.Rooms != 2 || res.booking.EventID != req.EventID || res.booking.HotelID != req.HotelID || res.booking.ReservationID == 0 {
		t.Fatalf("booking %+v for %+v", res.booking, req)
	}
	assertStoredAsTheReservation(t, pool, "codec", res.booking)
	// And the general path replays it.
	replay, err := newStore(pool).Reserve(ctx, strategy.Name, req, idemKey("codec", "reserve codec"))
	if err != nil || !replay.Replayed || replay.Value != res.booking {
		t.Fatalf("replay: %+v %v; want %+v", replay, err, res.booking)
	}
}

// Whenever the fast path does not book, it commits nothing, and the
// general path answers: a key used before (its row undoes the statement),
// a key past its retention, too few rooms, an unknown hotel.
func TestFastPathCommitsNothingUnlessItBooks(t *testing.T) {
	forKeyed(t, testFastPathCommitsNothingUnlessItBooks)
}

// Two rooms fit in one bucket of a sharded test hotel (10 rooms in 3, 3, 2
// and 2), so that a fast path with a used key would book if the key's row
// did not undo it.
func testFastPathCommitsNothingUnlessItBooks(t *testing.T, strategy db.Strategy) {
	store, bundle := setupFor(t, strategy, 4, 10)
	ctx, pool, hotel := bundle.ctx, bundle.pool, bundle.hotel
	key := func(k string) *evento.IdempotencyKey { kk := fastKey(k); return &kk }
	fast := func(req evento.BookRequest, k string) fastResult {
		return startBookKeyed(t, pool, strategy, req, fastKey(k)).wait(t)
	}

	first, err := store.Reserve(ctx, strategy.Name, hotel.request("ada", 2), key("used"))
	if err != nil || first.Replayed {
		t.Fatalf("first: %+v %v", first, err)
	}
	if res := fast(hotel.request("ada", 2), "used"); res.err != nil || res.booked {
		t.Fatalf("fast path with a used key: %+v; want nothing done", res)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 || totals.reserved != 2 {
		t.Fatalf("after a used key: %+v; want the first booking alone", totals)
	}

	if res := fast(hotel.request("bob", 9), "short"); res.err != nil || res.booked {
		t.Fatalf("9 of 8 left: %+v; want nothing done", res)
	}
	if keys := keyedRows(t, pool, "short"); keys != 0 {
		t.Fatalf("a refused fast path left %d key rows", keys)
	}
	refused, err := store.Reserve(ctx, strategy.Name, hotel.request("bob", 9), key("short"))
	var shortfall *evento.ShortfallError
	if err != nil || !errors.As(refused.Refusal, &shortfall) || shortfall.Available != 8 {
		t.Fatalf("9 of 8 left through the store: %+v %v", refused, err)
	}
	if keys := keyedRows(t, pool, "short"); keys != 0 {
		t.Fatalf("the general path kept %d key rows for a refusal; want none", keys)
	}

	unknown := evento.BookRequest{EventID: hotel.EventID, HotelID: hotel.HotelID + 1000, Name: "x", Rooms: 1}
	if res := fast(unknown, "nowhere"); res.err != nil || res.booked {
		t.Fatalf("unknown hotel: %+v; want nothing done", res)
	}

	expireKey(t, pool, "used")
	if res := fast(hotel.request("ada", 1), "used"); res.err != nil || res.booked {
		t.Fatalf("fast path with an expired key: %+v; want nothing done (the general path claims it afresh)", res)
	}
	afresh, err := store.Reserve(ctx, strategy.Name, hotel.request("ada", 1), key("used"))
	if err != nil || afresh.Replayed || afresh.Value.Rooms != 1 {
		t.Fatalf("expired key through the store: %+v %v; want a fresh booking", afresh, err)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 3 || totals.reserved != 3 {
		t.Fatalf("totals %+v; want 2 + 1", totals)
	}
}

// A duplicate arrives while the first request's fast-path statement is in
// flight: it holds the key's lock and waits for the hotel's row (held here
// by another transaction). The duplicate's own fast path must give up at
// once, without queueing for the row and without booking; through the
// store it then waits for the first (on the key, outside any transaction)
// and replays its booking.
func TestFastPathDuplicateOfAStatementInFlight(t *testing.T) {
	pool := dbtest.NewPool(t, 8)
	hotel := seedHotel(t, pool, 10)
	ctx := testContext(t)
	release := lockHotelRow(t, pool, hotel)
	atomic := mustStrategy(t, "atomic")

	first := startBookKeyed(t, pool, atomic, hotel.request("ada", 2), fastKey("dup"))
	first.waitBlocked(t, pool)
	waitForKeyClaimed(t, pool) // taken before the row, while the first waits for it

	second := startBookKeyed(t, pool, atomic, hotel.request("ada", 2), fastKey("dup"))
	if res := second.finishesWithoutWaiting(t, pool); res.err != nil || res.booked {
		t.Fatalf("duplicate's fast path: %+v; want nothing done", res)
	}

	k := fastKey("dup")
	dup := reserveAsync(ctx, newStore(pool), "atomic", hotel.request("ada", 2), &k)
	// The duplicate waits for the key (an advisory lock), the first for the row.
	waitForLockWaiters(t, pool, 2)
	release()
	a := first.wait(t)
	if a.err != nil || !a.booked {
		t.Fatalf("first: %+v", a)
	}
	d := <-dup
	if d.err != nil || !d.outcome.Replayed || d.outcome.Value != a.booking {
		t.Fatalf("duplicate through the store: %+v; want %+v replayed", d, a.booking)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 || totals.reserved != 2 {
		t.Fatalf("totals %+v; want one booking of 2", totals)
	}
}

// The other order: the general path holds the key (claimed, booking not
// yet done, transaction open) when the duplicate's fast path runs. The
// fast path must not book and must not wait (on the claimed key's row, or
// then on the hotel's row: the two would deadlock); the general path's
// request books once.
func TestFastPathDuplicateOfAGeneralPathClaim(t *testing.T) {
	for _, claim := range generalClaims {
		t.Run(claim.name, func(t *testing.T) {
			forKeyed(t, func(t *testing.T, s db.Strategy) { testFastPathDuplicateOfAGeneralPathClaim(t, s, claim) })
		})
	}
}

// generalClaim is one of the general path's ways to claim a key
// (queries/idempotency.sql): the booking's reservation records it in
// both.
type generalClaim struct {
	name      string
	isolation pgx.TxIsoLevel
	// probeBookings: whether the lock also looks for the key among
	// bookings (under SERIALIZABLE, only after a key race).
	probeBookings bool
}

var generalClaims = []generalClaim{
	{"lock, looking among bookings (read committed)", pgx.ReadCommitted, true},
	{"lock, not looking among bookings (serializable)", pgx.Serializable, false},
}

func testFastPathDuplicateOfAGeneralPathClaim(t *testing.T, strategy db.Strategy, claim generalClaim) {
	pool := dbtest.NewPool(t, 6)
	hotel := seedHotelFor(t, pool, strategy, 10)
	ctx := testContext(t)
	k := fastKey("claimed")

	tx := beginTx(t, pool, pgx.TxOptions{IsoLevel: claim.isolation}).tx // rolled back when the test ends, unless committed
	if locked := lockKeyProbing(t, tx, &k, claim.probeBookings); len(locked) != 1 || locked[0].Used {
		t.Fatalf("lock: %+v", locked)
	}

	if res := startBookKeyed(t, pool, strategy, hotel.request("ada", 2), k).finishesWithoutWaiting(t, pool); res.err != nil || res.booked {
		t.Fatalf("fast path while the key is claimed: %+v; want nothing done", res)
	}
	if _, err := strategy.Book(ctx, statementsOn(tx), hotel.request("ada", 2)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 {
		t.Fatalf("totals %+v; want the general path's booking alone", totals)
	}
	// The key is now stored: the fast path's INSERT meets it and undoes
	// its own booking.
	if res := startBookKeyed(t, pool, strategy, hotel.request("ada", 2), k).finishesWithoutWaiting(t, pool); res.err != nil || res.booked {
		t.Fatalf("fast path after the key was stored: %+v; want nothing done", res)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 {
		t.Fatalf("totals %+v; want the general path's booking alone", totals)
	}
}

// Two keyed requests for the last rooms, both fast paths queued on the
// hotel's row: exactly one books (and its key holds the booking); the
// other's statement re-checks on the winner's row, books nothing and
// stores nothing, and the general path refuses it and stores the refusal
// under its key.
func TestFastPathRacingASellOut(t *testing.T) {
	pool := dbtest.NewPool(t, 8)
	hotel := seedHotel(t, pool, 5)
	ctx := testContext(t)
	release := lockHotelRow(t, pool, hotel)

	keys := []string{"sell-1", "sell-2"}
	var answers []<-chan result
	for _, k := range keys {
		key := fastKey(k)
		answers = append(answers, reserveAsync(ctx, newStore(pool), "atomic", hotel.request(k, 5), &key))
	}
	waitForLockWaiters(t, pool, 2)
	if locks := queryInt(t, pool, keysClaimed); locks != 2 {
		t.Fatalf("%d keys locked while both wait for the row; want both, taken before the row", locks)
	}
	release()
	var booked, refused []result
	for _, answer := range answers {
		a := <-answer
		switch {
		case a.err != nil:
			t.Fatalf("answer: %v", a.err)
		case a.outcome.Refusal == nil:
			booked = append(booked, a)
		case errors.Is(a.outcome.Refusal, evento.ErrSoldOut):
			refused = append(refused, a)
		default:
			t.Fatalf("answer: %+v", a.outcome)
		}
	}
	if len(booked) != 1 || len(refused) != 1 {
		t.Fatalf("%d booked, %d refused; want one each", len(booked), len(refused))
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 5 || totals.reserved != 5 || len(totals.reservationIDs) != 1 {
		t.Fatalf("totals %+v; want one booking of 5", totals)
	}
	won := booked[0].outcome.Value
	if stored, raw := storedOutcome(t, pool, won.Name); stored.Value != won || stored.Refusal != nil {
		t.Fatalf("the winner's key holds %s; want %+v", raw, won)
	}
	lost := "sell-1"
	if won.Name == lost {
		lost = "sell-2"
	}
	if n := keyedRows(t, pool, lost); n != 0 {
		t.Fatalf("the loser's key kept %d rows; want none (a refusal is not kept)", n)
	}
	for _, k := range keys {
		again, err := newStore(pool).Reserve(ctx, "atomic", hotel.request(k, 5), idemKey(k, "reserve "+k))
		if err != nil || again.Replayed != (k == won.Name) || (k == won.Name) != (again.Refusal == nil) {
			t.Fatalf("resend of %s: %+v %v; want the winner's booking replayed, the loser's sold out afresh", k, again, err)
		}
	}
}

// Like every strategy's Book, the fast path sends its booking statement
// through Statements.Write: --race-window delays it, and a paused test can
// stop it before it runs.
func TestFastPathDeclaresItsWrite(t *testing.T) {
	_, bundle := setup(t, 2, 10)
	writes := 0
	st := db.Statements{Q: queries, Read: bundle.pool, Write: steppedTx{DBTX: bundle.pool, before: func() { writes++ }}}
	_, booked, err := mustStrategy(t, "atomic").BookKeyed(bundle.ctx, st, bundle.hotel.request("w", 1), fastKey("w"))
	if err != nil || !booked || writes != 1 {
		t.Fatalf("booked %v (%v) with %d statements through Write; want one", booked, err, writes)
	}
}

// A fast-path statement that PostgreSQL chose as a deadlock's victim (or
// failed to serialize) was undone whole: it is "nothing done", for the
// general path and its reruns, not an error for the client. Any other
// failure stays an error. (A sharded fast path can meet one: a bucket its
// SKIP LOCKED read locked and found full stays locked while it waits.)
func TestFastPathHandsADeadlockToTheGeneralPath(t *testing.T) {
	req := evento.BookRequest{EventID: 1, HotelID: 1, Name: "ada", Rooms: 1}
	for _, code := range []string{pgerrcode.DeadlockDetected, pgerrcode.SerializationFailure} {
		_, done, err := db.KeyedOutcome(0, fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code}), req)
		if done || err != nil {
			t.Errorf("%s: done %v, err %v; want nothing done and no error", code, done, err)
		}
	}
	if _, _, err := db.KeyedOutcome(0, &pgconn.PgError{Code: pgerrcode.CheckViolation}, req); err == nil {
		t.Error("a CHECK violation was taken for nothing done")
	}
}

// sharded's second fast-path statement (ShardedBookKeyedWaiting, run when
// every bucket with room is locked) builds the same outcome as the Go codec
// too: with the hotel's buckets held by another transaction, the fast path
// waits, books once they are free, and the key's outcome replays as the
// codec's.
func TestShardedWaitingFastPathOutcomeIsTheGoCodecs(t *testing.T) {
	sharded := mustStrategy(t, "sharded")
	_, bundle := setupFor(t, sharded, 4, 10)
	pool, hotel := bundle.pool, bundle.hotel
	release := lockRows(t, pool, `SELECT 1 FROM room_buckets rb JOIN event_hotel_rooms ehr ON ehr.id = rb.event_hotel_rooms_id
		WHERE ehr.hotel_id = $1 FOR UPDATE OF rb`, hotel.HotelID)
	run := startBookKeyed(t, pool, sharded, hotel.request("Zoë \"Q\" 日本", 2), fastKey("waited"))
	run.waitBlocked(t, pool)
	release()
	res := run.wait(t)
	if res.err != nil || !res.booked {
		t.Fatalf("fast path once the buckets were free: %+v", res)
	}
	assertStoredAsTheReservation(t, pool, "waited", res.booking)
}
