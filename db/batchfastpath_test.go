package db_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// The fast path of a keyed batch of batched (Strategy.BookBatchKeyed, see
// db/fastpath.go): BatchBook as one autocommit statement that claims every
// key of the batch itself, and commits only if it booked every request;
// otherwise the whole batch takes the general path. Run one after another,
// as the single-request fast path's tests are (fastpath_test.go).

// statementLog names each statement a pool sends: sqlc's query name, or
// the SQL's first word (begin, commit). onSend, when set, runs before each
// is sent: a test's step between two statements of one request.
type statementLog struct {
	mu     sync.Mutex
	sent   []string
	onSend func(name string)
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	l.record(data.SQL)
	return ctx
}

func (*statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart logs a batch's statements, all sent in one round trip (a
// transaction's BEGIN with its first statement, its last with COMMIT:
// pipeline.go), before it is sent.
func (l *statementLog) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	for _, q := range data.Batch.QueuedQueries {
		l.record(q.SQL)
	}
	return ctx
}

func (*statementLog) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (*statementLog) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (l *statementLog) record(sql string) {
	name := strings.Fields(sql)[0]
	if rest, ok := strings.CutPrefix(sql, "-- name: "); ok {
		name = strings.Fields(rest)[0]
	}
	l.mu.Lock()
	l.sent = append(l.sent, name)
	onSend := l.onSend
	l.mu.Unlock()
	if onSend != nil {
		onSend(name)
	}
}

// take returns the statements sent since the last take.
func (l *statementLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	sent := l.sent
	l.sent = nil
	return sent
}

// tracedBatches is a store serving batched on a fresh database through a
// pool whose statements it logs, beside an untraced pool for the test's
// own statements, and a hotel of rooms.
type tracedBatches struct {
	store  *db.Store
	log    *statementLog
	traced *pgxpool.Pool // the store's pool, whose statements log records
	pool   *pgxpool.Pool
	hotel  testHotel
}

func newTracedBatches(t *testing.T, rooms int32) tracedBatches {
	t.Helper()
	url := dbtest.NewURL(t)
	log := &statementLog{}
	traced := poolWith(t, url, 4, func(cfg *pgx.ConnConfig) { cfg.Tracer = log })
	pool, err := db.OpenPool(testContext(t), url, 6)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return tracedBatches{store: newStore(traced), log: log, traced: traced, pool: pool, hotel: seedHotel(t, pool, rooms)}
}

// batch runs reqs with keys as one batch, which must answer without
// waiting for any lock it cannot have.
func (b tracedBatches) batch(t *testing.T, reqs []evento.BookRequest, keys []*evento.IdempotencyKey) ([]evento.Outcome[evento.Booking], []error) {
	t.Helper()
	type answers struct {
		outcomes []evento.Outcome[evento.Booking]
		errs     []error
	}
	done := make(chan answers, 1)
	go func() {
		o, e := db.RunBatch(b.store, "batched", reqs, keys)
		done <- answers{o, e}
	}()
	a := receive(t, done, "the batch never answered")
	return a.outcomes, a.errs
}

// mustBeBooked fails the test unless outcome is a fresh booking of req.
func mustBeBooked(t *testing.T, outcome evento.Outcome[evento.Booking], err error, req evento.BookRequest) {
	t.Helper()
	if err != nil || outcome.Refusal != nil || outcome.Replayed || outcome.Value.Rooms != req.Rooms || outcome.Value.Name != req.Name || outcome.Value.ReservationID == 0 {
		t.Fatalf("%s: %+v %v; want a fresh booking of %d", req.Name, outcome, err, req.Rooms)
	}
}

// tookGeneralPath fails the test unless sent is the fast path's statement
// that committed nothing, then the general path's transaction.
func tookGeneralPath(t *testing.T, sent []string) {
	t.Helper()
	if len(sent) < 4 || sent[0] != "BatchBook" || sent[1] != "begin" || sent[2] != "LockIdempotencyKeys" || sent[len(sent)-1] != "commit" {
		t.Fatalf("sent %v; want BatchBook (the fast path), then the general path's transaction", sent)
	}
}

// A batch with keys (and a request without one) books in ONE statement: no
// BEGIN, no claim of its own, no COMMIT, as an unkeyed batch. Each key is
// on its booking's reservation, where a replay finds it.
func TestKeyedBatchBooksInOneStatement(t *testing.T) {
	b := newTracedBatches(t, 10)
	reqs := []evento.BookRequest{b.hotel.request("one-a", 2), b.hotel.request("one-b", 3), b.hotel.request("one-c", 1)}
	keys := []*evento.IdempotencyKey{idemKey("one-a", "reserve one-a"), nil, idemKey("one-c", "reserve one-c")}
	outcomes, errs := b.batch(t, reqs, keys)
	for i, req := range reqs {
		mustBeBooked(t, outcomes[i], errs[i], req)
	}
	if sent := b.log.take(); len(sent) != 1 || sent[0] != "BatchBook" {
		t.Fatalf("a keyed batch sent %v; want BatchBook alone", sent)
	}
	assertStoredAsTheReservation(t, b.pool, "one-a", outcomes[0].Value)
	assertStoredAsTheReservation(t, b.pool, "one-c", outcomes[2].Value)
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 6 || totals.reserved != 6 {
		t.Fatalf("totals %+v; want 2 + 3 + 1", totals)
	}
	if sent := b.log.take(); len(sent) != 0 {
		t.Fatalf("sent %v after the batch", sent)
	}
}

// A key used before makes the fast path commit nothing, and the batch,
// on the general path, replays it (a reservation's key) or refuses it as
// reused (a hold's key, in idempotency_keys, which the statement's claim
// checks: on its own, nothing would stop the fast path booking under it).
// The batch's other requests book once.
func TestKeyedBatchWithAKeyUsedBeforeFallsBack(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	used := b.hotel.request("used", 2)
	usedKey := idemKey("used", "reserve used")
	first, errs := b.batch(t, []evento.BookRequest{used}, []*evento.IdempotencyKey{usedKey})
	mustBeBooked(t, first[0], errs[0], used)
	if _, err := b.store.PlaceHold(ctx, evento.HoldRequest{BookRequest: b.hotel.request("held", 1), TTL: time.Hour}, idemKey("held", "hold held")); err != nil {
		t.Fatal(err)
	}
	b.log.take()

	fresh := b.hotel.request("fresh", 3)
	outcomes, errs := b.batch(t, []evento.BookRequest{used, fresh}, []*evento.IdempotencyKey{usedKey, idemKey("fresh", "reserve fresh")})
	tookGeneralPath(t, b.log.take())
	if errs[0] != nil || !outcomes[0].Replayed || outcomes[0].Value != first[0].Value {
		t.Fatalf("used key: %+v %v; want %+v replayed", outcomes[0], errs[0], first[0].Value)
	}
	mustBeBooked(t, outcomes[1], errs[1], fresh)

	more := b.hotel.request("more", 1)
	outcomes, errs = b.batch(t, []evento.BookRequest{b.hotel.request("held", 1), more}, []*evento.IdempotencyKey{idemKey("held", "reserve held"), idemKey("more", "reserve more")})
	tookGeneralPath(t, b.log.take())
	if !errors.Is(errs[0], evento.ErrKeyReused) {
		t.Fatalf("a hold's key reused for a booking: %+v %v; want key reused", outcomes[0], errs[0])
	}
	mustBeBooked(t, outcomes[1], errs[1], more)
	if n := queryInt(t, b.pool, `SELECT count(*) FROM reservations WHERE idempotency_key = 'held'`); n != 0 {
		t.Fatalf("the hold's key is on %d reservations", n)
	}
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 6 || len(totals.reservationIDs) != 3 {
		t.Fatalf("totals %+v; want 2 + 3 + 1 in three reservations", totals)
	}
}

// A batch in which one request would be refused commits nothing on the
// fast path: the general path books the others (fresh, not replays of a
// half-committed fast path), answers the refusal with the rooms that were
// left and keeps nothing under its key; and when an overdue hold is what
// takes the rooms, frees it and books the request after all.
func TestKeyedBatchWithARefusalFallsBack(t *testing.T) {
	b := newTracedBatches(t, 5)
	reqs := []evento.BookRequest{b.hotel.request("r-1", 3), b.hotel.request("r-2", 3), b.hotel.request("r-3", 2)}
	keys := []*evento.IdempotencyKey{idemKey("r-1", "reserve r-1"), idemKey("r-2", "reserve r-2"), idemKey("r-3", "reserve r-3")}
	outcomes, errs := b.batch(t, reqs, keys)
	tookGeneralPath(t, b.log.take())
	mustBeBooked(t, outcomes[0], errs[0], reqs[0])
	mustBeBooked(t, outcomes[2], errs[2], reqs[2])
	var shortfall *evento.ShortfallError
	if errs[1] != nil || !errors.As(outcomes[1].Refusal, &shortfall) || shortfall.Available != 2 || outcomes[1].Replayed {
		t.Fatalf("r-2: %+v %v; want refused with 2 left", outcomes[1], errs[1])
	}
	if n := keyedRows(t, b.pool, "r-2"); n != 0 {
		t.Fatalf("the refusal kept %d key rows; want none", n)
	}

	held := seedHotel(t, b.pool, 5)
	backdate(t, b.pool, mustHold(t, b.store, held, "gone", 3, time.Minute).Handle)
	b.log.take()
	reqs = []evento.BookRequest{held.request("h-1", 2), held.request("h-2", 3)}
	outcomes, errs = b.batch(t, reqs, []*evento.IdempotencyKey{idemKey("h-1", "reserve h-1"), idemKey("h-2", "reserve h-2")})
	tookGeneralPath(t, b.log.take())
	for i, req := range reqs {
		mustBeBooked(t, outcomes[i], errs[i], req)
	}
	if totals := readTotals(t, b.pool, held.HotelID); totals.booked != 5 || totals.reserved != 5 {
		t.Fatalf("totals %+v; want 2 + 3 once the overdue hold is freed", totals)
	}
}

// A key another transaction holds (its advisory lock taken, its booking
// not yet done): the batch's fast path commits nothing and waits for
// nothing; the general path books the batch's other request and tells the
// busy one so. Through the store, that request then waits for the key,
// outside any transaction and holding no row, and replays the booking the
// key's holder commits.
func TestKeyedBatchWithABusyKeyFallsBackAndWaits(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	key := idemKey("busy", "reserve busy")
	holder := holdKey(t, b.pool, key)

	free := b.hotel.request("free", 1)
	outcomes, errs := b.batch(t, []evento.BookRequest{free, b.hotel.request("busy", 2)}, []*evento.IdempotencyKey{idemKey("free", "reserve free"), key})
	tookGeneralPath(t, b.log.take())
	mustBeBooked(t, outcomes[0], errs[0], free)
	if !errors.Is(errs[1], db.ErrKeyBusy) {
		t.Fatalf("busy key: %+v %v; want busy", outcomes[1], errs[1])
	}

	waiting := reserveAsync(ctx, b.store, "batched", b.hotel.request("busy", 2), key)
	waitForLockWaiters(t, b.pool, 1)
	other := b.hotel.request("other", 1)
	o, err := b.store.Reserve(ctx, "batched", other, nil)
	mustBeBooked(t, o, err, other)
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 2 {
		t.Fatalf("totals %+v while the key is busy; want free's and other's bookings alone", totals)
	}

	holderBooksWaiterReplays(t, holder, "atomic", b.hotel.request("busy", 2), waiting)
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 4 || len(totals.reservationIDs) != 3 {
		t.Fatalf("totals %+v; want 1 + 1 + 2 in three reservations", totals)
	}
}

// A keyed batch in flight (its statement holds the key, taken before the
// hotel's row, which another transaction holds) and a duplicate on another
// server: the duplicate's fast path gives up at once, without queueing for
// the row; through the store it waits for the key and replays the batch's
// booking.
func TestKeyedBatchDuplicateOfABatchInFlight(t *testing.T) {
	b := newTracedBatches(t, 10)
	ctx := testContext(t)
	release := lockHotelRow(t, b.pool, b.hotel)
	req, key := b.hotel.request("flight", 2), idemKey("flight", "reserve flight")

	first := reserveAsync(ctx, b.store, "batched", req, key)
	waitForLockWaiters(t, b.pool, 1)
	waitForKeyClaimed(t, b.pool)

	batched := mustStrategy(t, "batched")
	tried := make(chan error, 1)
	go func() {
		st := statementsOn(b.pool)
		_, done, err := batched.BookBatchKeyed(ctx, st, []evento.BookRequest{req}, []*evento.IdempotencyKey{key})
		if err == nil && done {
			err = errors.New("booked")
		}
		tried <- err
	}()
	if err := receive(t, tried, "the duplicate's fast path waited for the hotel's row"); err != nil {
		t.Fatalf("duplicate's fast path: %v; want nothing done", err)
	}

	dup := reserveAsync(ctx, newStore(b.pool), "batched", req, key)
	waitForLockWaiters(t, b.pool, 2)
	release()
	a, d := receive(t, first, "the batch never answered"), receive(t, dup, "the duplicate never answered")
	mustBeBooked(t, a.outcome, a.err, req)
	if sent := b.log.take(); len(sent) != 1 || sent[0] != "BatchBook" {
		t.Fatalf("the first batch sent %v; want BatchBook alone", sent)
	}
	if d.err != nil || !d.outcome.Replayed || d.outcome.Value != a.outcome.Value {
		t.Fatalf("duplicate: %+v; want %+v replayed", d, a.outcome.Value)
	}
	if totals := readTotals(t, b.pool, b.hotel.HotelID); totals.booked != 2 || totals.reserved != 2 {
		t.Fatalf("totals %+v; want one booking of 2", totals)
	}
}

// holdKey takes key's lock in a transaction of its own, as a request
// with that key in progress holds it.
func holdKey(t *testing.T, pool *pgxpool.Pool, key *evento.IdempotencyKey) *session {
	t.Helper()
	holder := begin(t, pool)
	if rows := lockKey(t, holder.tx, key); len(rows) != 1 || rows[0].Used {
		t.Fatalf("holder's lock: %+v", rows)
	}
	return holder
}

// holderBooksWaiterReplays has the key's holder book req with strategy and
// commit, and checks that the request waiting for the key replays that
// booking.
func holderBooksWaiterReplays(t *testing.T, holder *session, strategy string, req evento.BookRequest, waiting <-chan result) {
	t.Helper()
	ctx := testContext(t)
	booking, err := mustStrategy(t, strategy).Book(ctx, statementsOn(holder.tx), req)
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	w := receive(t, waiting, "the request with the busy key never answered")
	if w.err != nil || !w.outcome.Replayed || w.outcome.Value != booking {
		t.Fatalf("after the holder committed: %+v; want %+v replayed", w, booking)
	}
}
