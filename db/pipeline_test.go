package db_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// A write's transaction sends BEGIN with its first statement and, for one
// request without a key, pessimistic's booking write with its COMMIT
// (pipeline.go): the hotel's row is locked for one round trip.

// countingConn counts the writes to PostgreSQL: pgx writes once per round
// trip.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// TestPessimisticBooksInTwoRoundTrips: BEGIN with the locking read, the
// write with COMMIT. Sent one by one, they were four; with a key, five, now
// three.
func TestPessimisticBooksInTwoRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool, writes := countingPool(t)
	hotel := seedHotel(t, pool, 10)
	store := newStore(pool)
	pessimistic := mustStrategy(t, "pessimistic")
	// The first booking prepares the statements on the connection.
	if _, err := reserve(ctx, store, pessimistic, hotel.request("warm-up", 1)); err != nil {
		t.Fatal(err)
	}
	writes.Store(0)
	if _, err := reserve(ctx, store, pessimistic, hotel.request("alice", 1)); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 2 {
		t.Fatalf("a pessimistic booking took %d round trips; want 2 (BEGIN with the lock, the write with COMMIT)", n)
	}
	// A key adds its lock, sent with BEGIN, and nothing after the write:
	// the key is written with the reservation, so the write still carries
	// COMMIT.
	if _, err := valueOf(store.Reserve(ctx, pessimistic.Name, hotel.request("bob", 1), idemKey("bob", "f"))); err != nil {
		t.Fatal(err)
	}
	writes.Store(0)
	if _, err := valueOf(store.Reserve(ctx, pessimistic.Name, hotel.request("carol", 1), idemKey("carol", "f"))); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 3 {
		t.Fatalf("a keyed pessimistic booking took %d round trips; want 3 (BEGIN with the key's lock, the row's lock, the write with COMMIT)", n)
	}
	assertBooked(t, pool, hotel, 4)
	if got := keyedRows(t, pool, "carol"); got != 1 {
		t.Errorf("carol's key is on %d reservations, want 1", got)
	}
}

// A keyed serializable booking: BEGIN with the key's lock, the read, the
// write with COMMIT; its key is on its reservation, so nothing follows
// the write.
func TestKeyedSerializableBooksInThreeRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pool, writes := countingPool(t)
	hotel := seedHotel(t, pool, 10)
	store := newStore(pool)
	// The first booking prepares the statements on the connection.
	if _, err := valueOf(store.Reserve(ctx, "serializable", hotel.request("bob", 1), idemKey("bob", "f"))); err != nil {
		t.Fatal(err)
	}
	writes.Store(0)
	if _, err := valueOf(store.Reserve(ctx, "serializable", hotel.request("carol", 1), idemKey("carol", "f"))); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 3 {
		t.Fatalf("a keyed serializable booking took %d round trips; want 3 (BEGIN with the key's lock, the read, the write with COMMIT)", n)
	}
	if got := keyedRows(t, pool, "carol"); got != 1 {
		t.Errorf("carol's key is kept in %d rows, want 1 (its reservation)", got)
	}
}

// countingPool is a pool of one connection to a fresh database, with the
// count of its writes to PostgreSQL.
func countingPool(t *testing.T) (*pgxpool.Pool, *atomic.Int64) {
	t.Helper()
	writes := new(atomic.Int64)
	var dialer net.Dialer
	pool := poolWith(t, dbtest.NewURL(t), 1, func(cfg *pgx.ConnConfig) {
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{Conn: conn, writes: writes}, nil
		}
	})
	return pool, writes
}

// marks is a table of the transactions' tests: a row written inside one is
// visible to other sessions once it committed.
func markTable(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(testContext(t), `CREATE TABLE marks (id int)`); err != nil {
		t.Fatal(err)
	}
}

func marks(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	return queryInt(t, pool, `SELECT count(*) FROM marks`)
}

// The last statement's answer comes with its COMMIT: when it returns, the
// transaction is committed, and there is nothing left to send.
func TestLastStatementCarriesTheCommit(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 3)
	markTable(t, pool)
	ctx := testContext(t)
	for _, endsWithLast := range []bool{true, false} {
		before, seen := marks(t, pool), -1
		err := db.RunTransaction(ctx, pool, endsWithLast, func(tx dbsqlc.DBTX) error {
			if _, err := tx.Exec(ctx, `INSERT INTO marks VALUES (1)`); err != nil {
				return err
			}
			var one int
			if err := db.LastOf(tx).QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
				return err
			}
			seen = marks(t, pool)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := before // committed after run
		if endsWithLast {
			want++
		}
		if seen != want {
			t.Fatalf("ending with its last statement %v: other sessions saw %d rows right after it; want %d", endsWithLast, seen-before, want-before)
		}
	}
	if n := marks(t, pool); n != 2 {
		t.Fatalf("%d rows committed, want 2", n)
	}
}

// A last statement that fails takes its COMMIT down with it: PostgreSQL
// skips it, nothing is committed, the error says so, and the connection
// is fine.
func TestFailedLastStatementCommitsNothing(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 1)
	markTable(t, pool)
	ctx := testContext(t)
	for _, exec := range []bool{false, true} {
		err := db.RunTransaction(ctx, pool, true, func(tx dbsqlc.DBTX) error {
			if _, err := tx.Exec(ctx, `INSERT INTO marks VALUES (1)`); err != nil {
				return err
			}
			if exec {
				_, err := db.LastOf(tx).Exec(ctx, `INSERT INTO marks VALUES (1/0)`)
				return err
			}
			var n int
			return db.LastOf(tx).QueryRow(ctx, `SELECT 1/0`).Scan(&n)
		})
		if err == nil || !db.IsUncommitted(err) {
			t.Fatalf("exec %v: err = %v; want a failure that committed nothing", exec, err)
		}
	}
	if n := marks(t, pool); n != 0 {
		t.Fatalf("%d rows committed by transactions whose last statement failed", n)
	}
}

// A strategy that sends a statement after its Last one broke its promise:
// the statement is not sent, and the write is in doubt (its COMMIT went
// out), never reported as having written nothing.
func TestStatementAfterTheCommitIsRefused(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 2)
	markTable(t, pool)
	ctx := testContext(t)
	err := db.RunTransaction(ctx, pool, true, func(tx dbsqlc.DBTX) error {
		if _, err := db.LastOf(tx).Exec(ctx, `INSERT INTO marks VALUES (1)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO marks VALUES (2)`)
		return err
	})
	if !errors.Is(err, evento.ErrOutcomeUnknown) {
		t.Fatalf("err = %v; want an unknown outcome", err)
	}
	if n := marks(t, pool); n != 1 {
		t.Fatalf("%d rows; want the one sent with the COMMIT", n)
	}
}

// pessimistic through the store, step by step: s1's BEGIN and locking read
// went out together and it stops before its write; s2 must wait for the
// row lock; s1's write and COMMIT go out together, and then s2 reads the
// hotel as s1 left it: sold out.
func TestPessimisticPipelinedQueuesTheSecondBooking(t *testing.T) {
	t.Parallel()
	store, b := setup(t, 4, 5)
	paused, resume := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	db.PauseBeforeWrites(store, func(context.Context) {
		if first.CompareAndSwap(false, true) {
			paused <- struct{}{}
			<-resume
		}
	})
	s1 := reserveAsync(b.ctx, store, "pessimistic", b.hotel.request("alice", 5), nil)
	receive(t, paused, "s1 never reached its write")
	s2 := reserveAsync(b.ctx, store, "pessimistic", b.hotel.request("bob", 5), nil)
	waitFor(t, b.pool, 1, "s2 never waited for s1's row lock", lockWaiters)
	close(resume)
	if r := receive(t, s1, "s1 never finished"); r.err != nil || r.outcome.Refusal != nil {
		t.Fatalf("s1: %+v", r)
	}
	if r := receive(t, s2, "s2 never finished"); !errors.Is(r.outcome.Refusal, evento.ErrSoldOut) {
		t.Fatalf("s2 after s1 committed: %+v; want sold out", r)
	}
	assertBooked(t, b.pool, b.hotel, 5)
}
