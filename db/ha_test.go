package db_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/localpg"
)

// TestHAReplayWaitsForStandby steps through the synchronous-replication
// cancel trap with a Store on a strict pair: the standby frozen, a keyed
// booking's COMMIT waits for it until the server's deadline (504), and
// PostgreSQL keeps the booking on the primary alone. A resend with the
// same key meanwhile must not answer "booked": a failover now would lose
// that booking. Once the standby is back, the resend replays it.
func TestHAReplayWaitsForStandby(t *testing.T) {
	dbtest.NeedHA(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	started := time.Now()
	step := func(what string) { t.Logf("%5.1f s: %s", time.Since(started).Seconds(), what) }
	h, _, pool := strictPairPrimary(ctx, t, db.PoolOptions{MaxConns: 4})
	hotel := seedHotel(t, pool, 10)
	store := db.NewStore(pool, db.Options{})
	key := &evento.IdempotencyKey{Key: "trap-" + t.Name(), Fingerprint: "f", Keep: time.Hour}
	// The server's deadline for one request (serve --query-timeout).
	book := func(deadline time.Duration) (evento.Outcome[evento.Booking], error) {
		ctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		return store.Reserve(ctx, "atomic", hotel.request("trap", 1), key)
	}

	step("pair started, schema migrated")
	standby, resume, err := h.FreezeStandby(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer resume()
	if _, err := book(2 * time.Second); !errors.Is(err, evento.ErrOutcomeUnknown) {
		t.Fatalf("a booking whose COMMIT waited for the frozen standby %s: %v, want outcome unknown (504)", standby, err)
	}
	step("first answer 504")
	// The client's cancel ends the wait; the primary keeps the commit.
	for {
		var stored bool
		err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM reservations WHERE idempotency_key = $1)`, key.Key).Scan(&stored)
		if err != nil {
			t.Fatal(err)
		}
		if stored {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the cancelled COMMIT never showed on the primary; the trap needs it committed locally")
		case <-time.After(50 * time.Millisecond):
		}
	}
	step("booking visible on the primary")
	if out, err := book(2 * time.Second); !errors.Is(err, evento.ErrOutcomeUnknown) {
		t.Errorf("a resend while the standby lacks the booking: %+v, %v; want outcome unknown (504), never booked", out, err)
	}

	step("resend while the standby is frozen answered")
	// Back, the standby catches up and confirms the replay's COMMIT; a
	// loaded machine may take longer than a request's usual deadline.
	resume()
	out, err := book(30 * time.Second)
	if err != nil || !out.Replayed || out.Value.Rooms != 1 {
		t.Fatalf("a resend once the standby is back: %+v, %v; want the booking replayed", out, err)
	}
}

// strictPairPrimary starts a strict pair, stopped when the test ends, and
// opens a migrated pool (opts) on its primary alone, not the multi-host
// URL: a new connection through that may try a frozen standby first,
// whose kernel accepts it and whose PostgreSQL never answers.
func strictPairPrimary(ctx context.Context, t *testing.T, opts db.PoolOptions) (*localpg.HA, string, *pgxpool.Pool) {
	t.Helper()
	h, err := localpg.StartHA(ctx, localpg.HAOptions{Durability: localpg.Strict, Log: io.Discard})
	if err != nil {
		t.Fatalf("StartHA: %v", err)
	}
	t.Cleanup(func() { _ = h.Stop() })
	primary, err := h.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := db.OpenPoolWith(ctx, h.MemberURL(primary), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := db.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return h, primary, pool
}
