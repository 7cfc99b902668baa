package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
	"github.com/evento-lab/evento/lab/faultproxy"
)

// The failures of a write whose last statement carries its COMMIT
// (pipeline.go): PostgreSQL's answer to the statement itself says whether
// the COMMIT behind it ran, whatever became of the session after.

// A last write whose session PostgreSQL ends while the write runs (an
// administrator's pg_terminate_backend, a shutdown, a session idle past
// its bound): the write's own answer is the error, so the COMMIT queued
// behind it never ran. Nothing was written: 503 unavailable, as for any
// statement before COMMIT, never 504.
func TestCarriedWriteEndedWithItsSessionIsUnavailable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mode string
		key  *evento.IdempotencyKey
	}{
		{"pessimistic", nil},
		{"serializable", idemKey("ended", "reserve 2")},
	} {
		t.Run(c.mode, func(t *testing.T) {
			t.Parallel()
			// The booking's INSERT waits for this table lock: its session
			// is ended while its write, COMMIT queued behind it, waits.
			store, b, admin, locker := warmedUpBehind(t, c.mode, `LOCK TABLE reservations IN EXCLUSIVE MODE`)
			s := reserveAsync(b.ctx, store, c.mode, b.hotel.request("ada", 2), c.key)
			waitFor(t, admin, 1, "the booking never waited for the table lock", lockWaiters)
			if n := queryInt(t, admin, `SELECT count(*) FROM pg_stat_activity, pg_terminate_backend(pid)
			                              WHERE datname = current_database() AND wait_event_type = 'Lock'`); n != 1 {
				t.Fatalf("ended %d sessions; want the booking's", n)
			}
			r := receive(t, s, "the booking never answered")
			if err := locker.Rollback(b.ctx); err != nil {
				t.Fatal(err)
			}
			assertBooked(t, admin, b.hotel, 1)
			if !errors.Is(r.err, evento.ErrUnavailable) || errors.Is(r.err, evento.ErrOutcomeUnknown) {
				t.Fatalf("write ended with its session before COMMIT ran: %v (outcome %+v); want unavailable (nothing was written)", r.err, r.outcome)
			}
		})
	}
}

// warmedUpBehind is setup on one connection, whose session a first
// booking with mode prepared the booking's statements on (the test's
// booking then only binds them), and a transaction of a pool of its own,
// admin's, holding lock until the test rolls it back or ends.
func warmedUpBehind(t *testing.T, mode, lock string) (store *db.Store, b *testBundle, admin *pgxpool.Pool, locker pgx.Tx) {
	t.Helper()
	store, b = setup(t, 1, 10)
	admin = otherPool(t, b.pool)
	if _, err := valueOf(store.Reserve(b.ctx, mode, b.hotel.request("warm-up", 1), nil)); err != nil {
		t.Fatal(err)
	}
	locker = begin(t, admin).tx
	if _, err := locker.Exec(b.ctx, lock); err != nil {
		t.Fatal(err)
	}
	return store, b, admin, locker
}

// A transaction whose only statement is its last: BEGIN, the statement
// and COMMIT go out in one round trip, and its whole reply is lost.
// PostgreSQL committed; the lost reply to BEGIN must not be taken for a
// BEGIN that failed, which committed nothing.
func TestLostReplyToABeginSentWithTheCommitIsUnknown(t *testing.T) {
	t.Parallel()
	direct := dbtest.NewPool(t, 2)
	markTable(t, direct)
	ctx := testContext(t)
	proxy, proxied, err := faultproxy.StartFor(direct.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	pool := poolWith(t, proxied, 1, nil)
	insert := func(tx dbsqlc.DBTX) error {
		_, err := db.LastOf(tx).Exec(ctx, `INSERT INTO marks VALUES (1)`)
		return err
	}
	// Warm up: the statements are prepared before the proxy is armed.
	if err := db.RunTransaction(ctx, pool, true, insert); err != nil {
		t.Fatal(err)
	}
	proxy.LoseReplyTo(faultproxy.Commits())
	err = db.RunTransaction(ctx, pool, true, insert)
	if proxy.Dropped() != 1 {
		t.Fatalf("the proxy lost no reply (err %v)", err)
	}
	eventually(t, "the transaction whose reply was lost never committed", func() bool { return marks(t, direct) == 2 })
	if db.IsUncommitted(err) || !errors.Is(db.ClassifyWrite(err), evento.ErrOutcomeUnknown) {
		t.Fatalf("reply lost to BEGIN, statement and COMMIT, which committed: %v (classified %v); want outcome unknown", err, db.ClassifyWrite(err))
	}
}

// A serialization failure reported by the COMMIT that the last write
// carried (a deferred check, here a constraint trigger that fails the
// first COMMIT with 40001): nothing was committed, and the booking runs
// again and books once.
func TestSerializationFailureAtTheCarriedCommitReruns(t *testing.T) {
	t.Parallel()
	for _, key := range []*evento.IdempotencyKey{nil, idemKey("rerun", "reserve 2")} {
		t.Run(map[bool]string{true: "keyed", false: "unkeyed"}[key != nil], func(t *testing.T) {
			t.Parallel()
			store, b := setup(t, 3, 10)
			for _, stmt := range []string{
				`CREATE SEQUENCE commits_seen`,
				`CREATE FUNCTION fail_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$
				 BEGIN
				     IF nextval('commits_seen') = 1 THEN
				         RAISE EXCEPTION 'first commit fails' USING ERRCODE = '40001';
				     END IF;
				     RETURN NULL;
				 END $$`,
				`CREATE CONSTRAINT TRIGGER fail_first_commit AFTER INSERT ON reservations
				 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_first_commit()`,
			} {
				if _, err := b.pool.Exec(b.ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
			booking, err := valueOf(store.Reserve(b.ctx, "serializable", b.hotel.request("ada", 2), key))
			if err != nil {
				t.Fatalf("a booking whose first COMMIT failed with 40001: %v; want it run again and booked", err)
			}
			if n := queryInt(t, b.pool, `SELECT last_value FROM commits_seen`); n != 2 {
				t.Fatalf("%d COMMITs ran the deferred check; want the failed one and the rerun's", n)
			}
			assertBooked(t, b.pool, b.hotel, 2)
			if key != nil && !recordsKey(t, b.pool, key.Key, booking.ReservationID) {
				t.Fatal("the rerun's reservation does not record its key")
			}
		})
	}
}

// A booking whose context ends while it waits in PostgreSQL: pgx closes
// the connection, so the next user of the pool never meets the
// transaction open. Waiting at its last write, whose COMMIT went out with
// it, the booking is in doubt (504): pgx's cancel request races the lock's
// release, and PostgreSQL may commit it; waiting at its first statement
// (BEGIN and the hotel's row lock), it committed nothing (503).
func TestCanceledBookingLeavesNoTransactionBehind(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, lock string
		unknown    bool
	}{
		{"at the last write", `LOCK TABLE reservations IN EXCLUSIVE MODE`, true},
		{"at the first statement", `SELECT FROM event_hotel_rooms FOR UPDATE`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			store, b, admin, locker := warmedUpBehind(t, "pessimistic", c.lock)
			ctx, cancel := context.WithCancel(b.ctx)
			s := reserveAsync(ctx, store, "pessimistic", b.hotel.request("ada", 2), nil)
			waitFor(t, admin, 1, "the booking never waited for the lock", lockWaiters)
			cancel()
			r := receive(t, s, "the canceled booking never answered")
			if errors.Is(r.err, evento.ErrOutcomeUnknown) != c.unknown {
				t.Fatalf("canceled %s: %v; want outcome unknown %v", c.name, r.err, c.unknown)
			}
			if err := locker.Rollback(b.ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := valueOf(store.Reserve(b.ctx, "pessimistic", b.hotel.request("bob", 1), nil)); err != nil {
				t.Fatalf("the pool's next booking: %v", err)
			}
			// The canceled booking's session ends once PostgreSQL is done
			// with it: pgx asked it to cancel the write, which races the
			// lock's release. Neither it nor any other stays behind in a
			// transaction.
			eventually(t, "a session stays busy or in a transaction", func() bool {
				return queryInt(t, admin, `SELECT count(*) FROM pg_stat_activity
				                            WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`) == 0
			})
			totals := readTotals(t, admin, b.hotel.HotelID)
			switch {
			case totals.reserved != totals.booked:
				t.Fatalf("totals %+v: the counter and the reservations disagree", totals)
			case totals.booked == 2:
			case totals.booked == 4 && c.unknown:
				// The write in doubt was done, whole.
			default:
				t.Fatalf("totals %+v; want the warm-up's and bob's rooms, and ada's only if she was told the outcome is unknown", totals)
			}
		})
	}
}
