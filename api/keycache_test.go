package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// A stranger repeating one made-up key costs the database one lookup, not
// one per request: a flood of 200, twenty at a time, costs exactly the
// transactions a single request does. Every answer is the same 401.
func TestRefusedKeysAreRemembered(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewURL(t)
	counter := newTransactionCounter(t, dbURL)
	const bad = "Bearer evk_madeUpByAStrangermadeUpByAStrangermadeUpBy"

	var first string
	one := counter.transactionsOf(t, func(f *fixture) {
		r := f.send(t, "GET", "/1/available", "", http.Header{"Authorization": {bad}})
		if r.status != http.StatusUnauthorized || errorCode(t, r) != "unauthenticated" {
			t.Fatalf("a made-up key: %d %s", r.status, r.raw)
		}
		first = r.raw
	})
	flood := counter.transactionsOf(t, func(f *fixture) {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				for range 10 {
					r := f.send(t, "GET", "/1/available", "", http.Header{"Authorization": {bad}})
					if r.status != http.StatusUnauthorized || r.raw != first || r.header.Get("WWW-Authenticate") == "" {
						t.Errorf("a remembered refusal: %d %s %v, want 401 %s", r.status, r.raw, r.header, first)
					}
				}
			})
		}
		wg.Wait()
	})
	t.Logf("transactions: %d for one request with a made-up key, %d for 200", one, flood)
	if one < 1 {
		t.Fatalf("one lookup counted %d transactions: the count does not see the lookups", one)
	}
	if flood != one {
		t.Fatalf("200 requests with one made-up key cost %d transactions, one request %d: want the same", flood, one)
	}
}

// A key made after a stranger's keys were refused works at once.
func TestANewKeyWorksAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{Auth: api.AuthKeys})
	for range 3 {
		if r := f.withKey(t, "GET", "/1/available", "", "evk_guess"); r.status != http.StatusUnauthorized {
			t.Fatalf("a guess: %d %s", r.status, r.raw)
		}
	}
	key := f.addClient(t, "newcomer", 0)
	if r := f.withKey(t, "GET", "/1/available", "", key); r.status != http.StatusOK {
		t.Fatalf("a key just made: %d %s", r.status, r.raw)
	}
}

// transactionCounter counts the transactions PostgreSQL commits or rolls
// back in one database (pg_stat_database), from a session on another
// database, so that counting adds nothing to the count.
type transactionCounter struct {
	dbURL, name string
	admin       *pgxpool.Pool
}

func newTransactionCounter(t *testing.T, dbURL string) *transactionCounter {
	t.Helper()
	parsed, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgxpool.New(context.Background(), dbtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	return &transactionCounter{dbURL: dbURL, name: strings.TrimPrefix(parsed.Path, "/"), admin: admin}
}

// transactionsOf serves the API with --auth keys on a pool of one
// connection of its own, runs requests against it, and counts the
// transactions they cost. A backend reports its counts when it exits, so
// the pool is closed and its backend gone before each count.
func (c *transactionCounter) transactionsOf(t *testing.T, requests func(f *fixture)) int64 {
	t.Helper()
	before := c.count(t)
	pool, err := db.OpenPool(context.Background(), c.dbURL, 1)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{pool: pool}
	f.server = serve(t, pool, api.Options{Auth: api.AuthKeys})
	requests(f)
	f.server.Close()
	pool.Close()
	return c.count(t) - before
}

func (c *transactionCounter) count(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var backends int
		if err := c.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, c.name).Scan(&backends); err != nil {
			t.Fatal(err)
		}
		if backends == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends still on %s", backends, c.name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var n int64
	if err := c.admin.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1`, c.name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
