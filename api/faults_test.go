package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/lab/faultproxy"
)

// faultyFixture is the real API whose one database connection runs through
// a fault proxy, and a direct pool to see what really committed.
type faultyFixture struct {
	*fixture
	proxy  *faultproxy.Proxy
	direct *pgxpool.Pool
}

func newFaultyFixture(t *testing.T, rooms int32) *faultyFixture {
	t.Helper()
	direct := dbtest.NewPool(t, 4)
	event, err := labdb.Seed(context.Background(), direct, labdb.SeedSpec{Name: "faults", Hotels: 1, Rooms: rooms})
	if err != nil {
		t.Fatal(err)
	}
	proxy, proxied, err := faultproxy.StartFor(direct.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	// One connection, so that every statement the test warms up is
	// prepared on the connection whose reply the proxy will lose.
	pool, err := db.OpenPool(context.Background(), proxied, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &faultyFixture{
		fixture: &fixture{pool: direct, server: serve(t, pool, api.Options{}), eventID: event.EventID, hotels: event.Hotels},
		proxy:   proxy, direct: direct,
	}
}

// booked counts the reservations that really committed.
func (f *faultyFixture) booked(t *testing.T) (rows int, ids map[float64]bool) {
	t.Helper()
	r, _ := f.direct.Query(context.Background(), `SELECT id FROM reservations`)
	all, err := pgx.CollectRows(r, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	ids = map[float64]bool{}
	for _, id := range all {
		ids[float64(id)] = true
	}
	return len(ids), ids
}

// The database commits a booking, and the reply never reaches the server:
// the only true answer is 504 outcome_unknown ("it may have been made"),
// never 503 ("nothing was changed") nor 500. With a key, the resend learns
// the stored outcome. Each case loses the reply to the message that
// commits, as faultproxy.Commits finds it, the lab's lose-replies fault
// too: the COMMIT of a transaction (never a Sync inside it, which commits
// nothing: then the booking would not be committed), or the Sync of an
// autocommit statement (an unkeyed atomic booking, a batch, and on their
// fast paths a keyed atomic booking and a keyed batch). The resend with
// the key finds it stored: the fast path undoes itself and the general
// path replays.
func TestLostCommitReplyIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mode string
		key  bool
	}{
		{"atomic", false},
		{"batched", false},
		{"pessimistic", false},
		{"pessimistic", true},
		{"atomic", true},
		{"batched", true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/key=%v", c.mode, c.key), func(t *testing.T) {
			t.Parallel()
			f := newFaultyFixture(t, 10)
			header := func(key string) http.Header {
				if !c.key {
					return nil
				}
				return http.Header{"Idempotency-Key": {key}}
			}
			// Warm up: every statement of the path is prepared on the
			// one connection before the proxy is armed.
			if r := f.send(t, "POST", f.reservePath(0, c.mode), `{"name":"warm","rooms":1}`, header("warm-up")); r.status != http.StatusCreated {
				t.Fatalf("warm-up: %d %s", r.status, r.raw)
			}
			f.proxy.LoseReplyTo(faultproxy.Commits())
			r := f.send(t, "POST", f.reservePath(0, c.mode), `{"name":"ada","rooms":2}`, header("lost"))
			if f.proxy.Dropped() != 1 {
				t.Fatalf("the proxy lost no reply (answer %d %s)", r.status, r.raw)
			}
			if r.status != http.StatusGatewayTimeout || errorCode(t, r) != evento.ErrOutcomeUnknown.Code {
				t.Fatalf("reply lost after commit: %d %s; want 504 outcome_unknown", r.status, r.raw)
			}
			// The server answered as soon as the connection broke; the
			// proxy hands PostgreSQL the commit right after.
			rows, ids := f.booked(t)
			for deadline := time.Now().Add(5 * time.Second); rows != 2 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				rows, ids = f.booked(t)
			}
			if rows != 2 {
				t.Fatalf("%d reservations committed; want the warm-up's and the lost one's", rows)
			}
			if !c.key {
				return
			}
			again := f.send(t, "POST", f.reservePath(0, c.mode), `{"name":"ada","rooms":2}`, header("lost"))
			id, _ := again.body["reservation_id"].(float64)
			if again.status != http.StatusCreated || again.header.Get(api.IdempotentReplayedHeader) != "true" || !ids[id] {
				t.Fatalf("resend with the key: %d %s; want the committed booking replayed", again.status, again.raw)
			}
			if rows, _ := f.booked(t); rows != 2 {
				t.Fatalf("the resend booked again: %d reservations", rows)
			}
		})
	}
}

// A read whose connection is cut before its reply arrives, as an immediate
// shutdown of PostgreSQL cut 46 availability reads in a trial ("unexpected
// EOF"), is a fault: 503 unavailable with Retry-After, never a 500.
func TestReadCutMidReplyIsUnavailable(t *testing.T) {
	t.Parallel()
	f := newFaultyFixture(t, 10)
	path := fmt.Sprintf("/%d/%d/available", f.eventID, f.hotels[0].HotelID)
	// Warm up: the read's statement is prepared before the proxy is armed.
	if r := f.do(t, "GET", path, ""); r.status != http.StatusOK {
		t.Fatalf("warm-up: %d %s", r.status, r.raw)
	}
	f.proxy.LoseReplyTo(faultproxy.Commits())
	r := f.do(t, "GET", path, "")
	if f.proxy.Dropped() != 1 {
		t.Fatalf("the proxy cut no reply (answer %d %s)", r.status, r.raw)
	}
	if r.status != http.StatusServiceUnavailable || errorCode(t, r) != evento.ErrUnavailable.Code || r.header.Get("Retry-After") == "" {
		t.Fatalf("read cut mid-reply: %d %s (Retry-After %q); want 503 unavailable with Retry-After", r.status, r.raw, r.header.Get("Retry-After"))
	}
	if r := f.do(t, "GET", path, ""); r.status != http.StatusOK {
		t.Fatalf("the next read, on a new connection: %d %s", r.status, r.raw)
	}
}
