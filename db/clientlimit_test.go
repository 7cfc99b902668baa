package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
	"github.com/evento-lab/evento/db/labdb"
)

// limitWorld is one event of two hotels and one API client, for the tests
// of the per-client limit and of cancels.
type limitWorld struct {
	pool   *pgxpool.Pool
	store  *db.Store
	hotels [2]testHotel
	client evento.ClientID
	ctx    context.Context
}

// newLimitWorld seeds an event of two hotels of rooms each (split into
// buckets for a strategy that books them) and adds a client.
func newLimitWorld(t *testing.T, strategy db.Strategy, rooms int32) *limitWorld {
	t.Helper()
	pool := dbtest.NewPool(t, 8)
	ctx := testContext(t)
	event, err := labdb.Seed(ctx, pool, labdb.SeedSpec{Name: t.Name(), Hotels: 2, Rooms: rooms, Buckets: strategy.SplitsHotels(testBuckets)})
	if err != nil {
		t.Fatal(err)
	}
	who, _, err := db.CreateClient(ctx, pool, "mallory", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := &limitWorld{pool: pool, store: newStore(pool), client: who.ID, ctx: ctx}
	for i := range w.hotels {
		w.hotels[i] = testHotel{EventID: event.EventID, HotelID: event.Hotels[i].HotelID}
	}
	return w
}

// ask is a request of the world's client for rooms at hotel i, under a
// limit of limit rooms at the event.
func (w *limitWorld) ask(i int, rooms, limit int32) evento.BookRequest {
	req := w.hotels[i].request("mallory", rooms)
	req.Client, req.MaxRoomsPerEvent = w.client, limit
	return req
}

// has is how many rooms the client has at the event, as the limit counts.
func (w *limitWorld) has(t *testing.T) int {
	t.Helper()
	return queryInt(t, w.pool, `
		SELECT (SELECT coalesce(sum(r.number), 0) FROM reservations r
		          JOIN event_hotel_rooms e ON e.id = r.event_hotel_rooms_id
		         WHERE r.client_id = $1 AND e.event_id = $2 AND r.cancelled_at IS NULL)
		     + (SELECT coalesce(sum(h.rooms), 0) FROM holds h
		          JOIN event_hotel_rooms e ON e.id = h.event_hotel_rooms_id
		         WHERE h.client_id = $1 AND e.event_id = $2 AND h.state = 'held' AND h.expires_at > clock_timestamp())`,
		int64(w.client), w.hotels[0].EventID)
}

// assertCountersMatchRows checks each hotel's counters against the sum of
// its live reservations: a cancel must give back exactly what it marks.
func (w *limitWorld) assertCountersMatchRows(t *testing.T) {
	t.Helper()
	for _, h := range w.hotels {
		if totals := readTotals(t, w.pool, h.HotelID); totals.reserved != totals.booked {
			t.Fatalf("hotel %d: counters say %d reserved, live reservations %d", h.HotelID, totals.reserved, totals.booked)
		}
	}
}

func clientLimitOf(t *testing.T, err error) *evento.ClientLimitError {
	t.Helper()
	var limit *evento.ClientLimitError
	if !errors.As(err, &limit) || !errors.Is(err, evento.ErrClientLimit) {
		t.Fatalf("got %v, want client_limit", err)
	}
	return limit
}

// Two bookings of one client at two hotels of one event, 8 rooms then 5
// under a limit of 10, driven step by step: s1 takes the write engine's
// limit step (the client's lock at the event, the count) and books 8 rooms
// at the first hotel, uncommitted. The store's booking of 5 at the second
// hotel (another hotel row: nothing else makes it wait) must queue on the
// client's lock, as PostgreSQL reports, and once s1 commits, count s1's 8
// and refuse. Without the lock it counts 0 and both book: 13 rooms under
// a limit of 10 (write skew). Under SERIALIZABLE the second's count may
// read a snapshot older than the lock: there PostgreSQL's SSI refuses it
// (40001), and the engine's rerun counts again.
func TestClientLimitQueuesOnTheClientsLock(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"atomic", "pessimistic", "sharded", "batched", "serializable"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			strategy := mustStrategy(t, name)
			w := newLimitWorld(t, strategy, 20)
			first := w.ask(0, 8, 10)

			s1 := begin(t, w.pool)
			if strategy.Tx != nil {
				s1 = beginTx(t, w.pool, *strategy.Tx)
			}
			s1.runQueries(func(ctx context.Context, tx dbsqlc.DBTX) error {
				refusals, err := db.CheckClientLimits(ctx, queries, tx, []evento.BookRequest{first})
				if err != nil || refusals[0] != nil {
					return fmt.Errorf("the limit step: %v %v", refusals, err)
				}
				st := statementsOn(tx)
				if strategy.BookBatch != nil {
					outcomes, err := strategy.BookBatch(ctx, st, []evento.BookRequest{first}, nil)
					if err == nil {
						err = outcomes[0].Refusal
					}
					return err
				}
				_, err = strategy.Book(ctx, st, first)
				return err
			})
			s1.succeeds("s1 books 8")

			second := reserveAsync(w.ctx, w.store, name, w.ask(1, 5, 10), idemKey("second", "f"))
			waitFor(t, w.pool, 1, "the second booking never waited for the client's lock", `SELECT count(*) FROM pg_stat_activity
				WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND pid <> $1`, int32(s1.pid))
			s1.commit()
			r := receive(t, second, "the second booking never finished")
			_, err := valueOf(r.outcome, r.err)
			limit := clientLimitOf(t, err)
			if limit.Has != 8 || limit.Limit != 10 || limit.Requested != 5 {
				t.Fatalf("refusal %+v; want 8 had, 5 asked, limit 10", limit)
			}
			if has := w.has(t); has != 8 {
				t.Fatalf("the client has %d rooms at the event under a limit of 10, want 8", has)
			}
			// Not kept: the key is free for the same request later.
			if n := keyedRows(t, w.pool, "second"); n != 0 {
				t.Fatalf("the client_limit refusal was stored under its key (%d rows)", n)
			}
		})
	}
}

// For every safe strategy, with and without a key: a client stops at its
// limit, summed over the event's hotels; the refusal names the limit and
// what the client has, and is not kept; a cancel gives the allowance back,
// and the very request refused before (same key) then books. The counters
// match the live rows throughout.
func TestClientLimitStopsEverySafeStrategy(t *testing.T) {
	t.Parallel()
	for _, strategy := range db.Strategies {
		if !strategy.Safe {
			continue
		}
		for _, keyed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keyed=%v", strategy.Name, keyed), func(t *testing.T) {
				t.Parallel()
				w := newLimitWorld(t, strategy, 20)
				n := 0
				key := func() *evento.IdempotencyKey {
					if !keyed {
						return nil
					}
					n++
					return idemKey(fmt.Sprintf("k%d", n), "f")
				}
				book := func(req evento.BookRequest, k *evento.IdempotencyKey) (evento.Booking, error) {
					return valueOf(w.store.Reserve(w.ctx, strategy.Name, req, k))
				}
				firstBooking, err := book(w.ask(0, 5, 10), key())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := book(w.ask(1, 4, 10), key()); err != nil {
					t.Fatal(err)
				}
				refusedKey := key()
				_, err = book(w.ask(0, 2, 10), refusedKey)
				if limit := clientLimitOf(t, err); limit.Has != 9 || limit.Limit != 10 {
					t.Fatalf("refusal %+v; want 9 had of 10", limit)
				}
				if _, err := book(w.ask(1, 1, 10), key()); err != nil {
					t.Fatalf("the last room of the allowance: %v", err)
				}
				_, err = book(w.ask(1, 1, 10), key())
				clientLimitOf(t, err)
				if has := w.has(t); has != 10 {
					t.Fatalf("the client has %d rooms, want 10", has)
				}
				w.assertCountersMatchRows(t)

				ref := evento.ReservationRef{EventID: firstBooking.EventID, HotelID: firstBooking.HotelID, ReservationID: firstBooking.ReservationID, Client: w.client}
				if err := w.store.CancelReservation(w.ctx, ref); err != nil {
					t.Fatal(err)
				}
				w.assertCountersMatchRows(t)
				if _, err := book(w.ask(0, 2, 10), refusedKey); err != nil {
					t.Fatalf("after a cancel, the request refused before: %v", err)
				}
				if has := w.has(t); has != 7 {
					t.Fatalf("the client has %d rooms, want 7", has)
				}
				w.assertCountersMatchRows(t)
			})
		}
	}
}

// Holds take from the same allowance as bookings: a hold of 6 leaves room
// for 4; releasing it gives them back; a confirmed hold counts once; an
// expired hold gives its rooms back without any sweeper.
func TestClientLimitCountsHolds(t *testing.T) {
	t.Parallel()
	atomic := mustStrategy(t, "atomic")
	w := newLimitWorld(t, atomic, 20)
	hold := func(i int, rooms int32, ttl time.Duration) (evento.Hold, error) {
		return placeHold(w.ctx, w.store, evento.HoldRequest{BookRequest: w.ask(i, rooms, 10), TTL: ttl})
	}
	ref := func(h evento.Hold) evento.HoldRef {
		return evento.HoldRef{EventID: h.EventID, HotelID: h.HotelID, Handle: h.Handle, Client: w.client}
	}
	six, err := hold(0, 6, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = reserve(w.ctx, w.store, atomic, w.ask(1, 5, 10))
	if limit := clientLimitOf(t, err); limit.Has != 6 {
		t.Fatalf("refusal %+v; want 6 had (held)", limit)
	}
	_, err = hold(1, 5, time.Minute)
	clientLimitOf(t, err)
	if err := w.store.ReleaseHold(w.ctx, ref(six)); err != nil {
		t.Fatal(err)
	}
	if _, err := reserve(w.ctx, w.store, atomic, w.ask(1, 5, 10)); err != nil {
		t.Fatalf("after the release: %v", err)
	}
	five, err := hold(0, 5, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := confirmHold(w.ctx, w.store, ref(five)); err != nil {
		t.Fatal(err)
	}
	if has := w.has(t); has != 10 {
		t.Fatalf("a confirmed hold counted twice or not at all: %d rooms, want 10", has)
	}
	_, err = reserve(w.ctx, w.store, atomic, w.ask(0, 1, 10))
	if limit := clientLimitOf(t, err); limit.Has != 10 {
		t.Fatalf("refusal %+v; want 10 had", limit)
	}

	// Down to 5, then a hold of 5 that expires: its rooms come back to
	// the allowance as soon as it expires.
	var id int64
	if err := w.pool.QueryRow(w.ctx, `SELECT id FROM reservations WHERE hold_id IS NULL AND client_id = $1`, int64(w.client)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := w.store.CancelReservation(w.ctx, evento.ReservationRef{EventID: w.hotels[1].EventID, HotelID: w.hotels[1].HotelID, ReservationID: id, Client: w.client}); err != nil {
		t.Fatal(err)
	}
	if _, err := hold(1, 5, time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = reserve(w.ctx, w.store, atomic, w.ask(1, 1, 10))
	clientLimitOf(t, err)
	time.Sleep(1100 * time.Millisecond)
	if _, err := reserve(w.ctx, w.store, atomic, w.ask(1, 5, 10)); err != nil {
		t.Fatalf("after the hold expired: %v", err)
	}
	w.assertCountersMatchRows(t)
}

// In a batch (one transaction for many requests), a request over its
// client's limit is refused alone: the others of the batch book, the
// client's earlier requests of the batch count against its later ones, and
// the anonymous client has no limit.
func TestClientLimitInABatch(t *testing.T) {
	t.Parallel()
	w := newLimitWorld(t, mustStrategy(t, "batched"), 100)
	anonymous := w.hotels[0].request("anyone", 6)
	anonymous.MaxRoomsPerEvent = 1 // ignored: the anonymous client is everyone
	outcomes, err := db.BookTogether(w.ctx, w.store, "batched", []evento.BookRequest{
		w.ask(0, 6, 10), w.ask(0, 6, 10), anonymous, w.ask(0, 4, 10), w.ask(0, 1, 10),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, true, true, false} {
		booked := outcomes[i].Refusal == nil && outcomes[i].Value.ReservationID > 0
		if booked != want {
			t.Fatalf("request %d: booked %v (%+v), want %v", i, booked, outcomes[i], want)
		}
		if !want {
			clientLimitOf(t, outcomes[i].Refusal)
		}
	}
	if has := w.has(t); has != 10 {
		t.Fatalf("the client has %d rooms, want 10", has)
	}
	if totals := readTotals(t, w.pool, w.hotels[0].HotelID); totals.booked != 16 || totals.reserved != 16 {
		t.Fatalf("hotel: %d reserved, %d booked; want 16 and 16", totals.reserved, totals.booked)
	}
}
