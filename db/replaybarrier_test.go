package db_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// A replay's transaction is a durability barrier: only a transaction that
// has an xid and wrote WAL waits at COMMIT for a synchronous standby, and
// LockIdempotencyKeys writes nothing, so AwaitReplicaOfReplay's row lock
// of the reservation that records the key gives the replay its xid and
// its WAL. Under SERIALIZABLE a booking's replay comes after a key race,
// on the attempt that looks for the key among bookings. This guards that
// property on one server, without Patroni; TestHAReplayWaitsForStandby
// shows what it buys on a pair.
func TestReplayTransactionWritesWAL(t *testing.T) {
	t.Parallel()
	for _, isolation := range []pgx.TxIsoLevel{pgx.ReadCommitted, pgx.Serializable} {
		t.Run(string(isolation), func(t *testing.T) {
			t.Parallel()
			pool := dbtest.NewPool(t, 2)
			ctx := testContext(t)
			hotel := seedHotel(t, pool, 10)
			key := idemKey("k-barrier", "reserve 1")
			if _, err := newStore(pool).Reserve(ctx, "atomic", hotel.request("alice", 1), key); err != nil {
				t.Fatal(err)
			}
			tx := beginTx(t, pool, pgx.TxOptions{IsoLevel: isolation}).tx
			locked, err := queries.LockIdempotencyKeys(ctx, tx, dbsqlc.LockIdempotencyKeysParams{Keys: []string{key.Key}, ProbeBookings: true})
			if err != nil || len(locked) != 1 || !locked[0].Used {
				t.Fatalf("lock of a used key: %+v, %v; want it locked and used (a replay)", locked, err)
			}
			if err := queries.AwaitReplicaOfReplay(ctx, tx, []string{key.Key}); err != nil {
				t.Fatal(err)
			}
			var xid bool
			if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id_if_assigned() IS NOT NULL`).Scan(&xid); err != nil {
				t.Fatal(err)
			}
			if !xid {
				t.Error("a replay's transaction has no xid: its COMMIT does not wait for a synchronous standby, and a replay may answer 201 for a booking only the primary has")
			}
		})
	}
}
