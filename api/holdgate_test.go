package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
)

// A client flooding hold requests while its hold lock is taken does not
// take the server's pool with it: its requests queue in the server's
// memory, one at a time on a connection, and another client's request on a
// server of 2 connections is answered at once. Before, each of mallory's
// requests waited for the lock on a connection of its own, and the pool ran
// dry (bob: 503 after the query timeout).
func TestAClientsHoldFloodLeavesThePoolToOthers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	ctx := context.Background()
	small, err := db.OpenPool(ctx, f.pool.Config().ConnString(), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(small.Close)
	opts := api.Options{Auth: api.AuthKeys, MaxHeldRooms: 10, QueryTimeout: 3 * time.Second}
	f.server = serve(t, small, opts)
	mallory, bob := f.addClient(t, "mallory", 0), f.addClient(t, "bob", 0)

	// Another server of the same database is placing a hold of mallory's:
	// her lock (queries/holds.sql, LockClientHolds) is taken.
	lock, err := f.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	var malloryID int64
	if err := f.pool.QueryRow(ctx, `SELECT id FROM api_clients WHERE name = 'mallory'`).Scan(&malloryID); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `SELECT pg_advisory_lock((x'45564843'::bigint << 32) | $1)`, malloryID); err != nil {
		t.Fatal(err)
	}

	const flood = 10
	statuses := make([]int, flood)
	var wg sync.WaitGroup
	for i := range flood {
		wg.Go(func() {
			statuses[i] = f.withKey(t, "POST", f.holdsPath(0), `{"name":"m","rooms":1}`, mallory).status
		})
	}
	waiting := func() int {
		var n int
		if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for waiting() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the rest of the flood arrives
	if n := waiting(); n != 1 {
		t.Errorf("%d of mallory's holds wait for her lock on a connection; want 1", n)
	}

	started := time.Now()
	r := f.withKey(t, "POST", f.holdsPath(1), `{"name":"b","rooms":1}`, bob)
	if r.status != http.StatusCreated || time.Since(started) > time.Second {
		t.Errorf("bob's hold beside the flood: %d after %s %s; want 201 at once", r.status, time.Since(started), r.raw)
	}

	if _, err := lock.Exec(ctx, `SELECT pg_advisory_unlock((x'45564843'::bigint << 32) | $1)`, malloryID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, s := range statuses {
		if s != http.StatusCreated {
			t.Fatalf("mallory's holds once her lock is free: %v; want 201 each (10 rooms under a cap of 10)", statuses)
		}
	}
}
