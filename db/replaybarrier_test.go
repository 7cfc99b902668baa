package db_test

import (
	"testing"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// A replay's transaction is a durability barrier because claiming a used
// key locks its row (ON CONFLICT DO UPDATE locks the rows it meets, even
// when its WHERE updates none): the lock gives the transaction an xid and
// writes WAL, and only such a transaction's COMMIT waits for a
// synchronous standby. This guards that property on one server, without
// Patroni; TestHAReplayWaitsForStandby shows what it buys on a pair.
func TestReplayTransactionWritesWAL(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 2)
	ctx := testContext(t)
	hotel := seedHotel(t, pool, 10)
	key := idemKey("k-barrier", "reserve 1")
	store := db.NewStore(pool, db.Options{})
	if _, err := store.Reserve(ctx, "atomic", hotel.request("alice", 1), key); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	claimed, err := dbsqlc.New().ClaimIdempotencyKeys(ctx, tx, dbsqlc.ClaimIdempotencyKeysParams{
		Keys: []string{key.Key}, Fingerprints: []string{key.Fingerprint}, TtlSeconds: 3600,
	})
	if err != nil || len(claimed) != 1 || claimed[0].Owned {
		t.Fatalf("claim of a used key: %+v, %v; want it locked and not owned (a replay)", claimed, err)
	}
	var xid, logged bool
	err = tx.QueryRow(ctx, `SELECT pg_current_xact_id_if_assigned() IS NOT NULL,
	                               (SELECT relpersistence = 'p' FROM pg_class WHERE oid = 'idempotency_keys'::regclass)`).Scan(&xid, &logged)
	if err != nil {
		t.Fatal(err)
	}
	if !xid || !logged {
		t.Errorf("a replay's transaction: xid assigned %v, idempotency_keys WAL-logged %v; without both its COMMIT does not wait for a synchronous standby, and a replay may answer 201 for a booking only the primary has", xid, logged)
	}
}

// The same barrier under READ COMMITTED, where LockIdempotencyKeys writes
// nothing: AwaitReplicaOfReplay's row lock of the reservation that
// records the key gives the replay its xid and its WAL.
func TestReplayUnderReadCommittedWritesWAL(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 2)
	ctx := testContext(t)
	hotel := seedHotel(t, pool, 10)
	key := idemKey("k-barrier-rc", "reserve 1")
	if _, err := db.NewStore(pool, db.Options{}).Reserve(ctx, "atomic", hotel.request("alice", 1), key); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	q := dbsqlc.New()
	locked, err := q.LockIdempotencyKeys(ctx, tx, dbsqlc.LockIdempotencyKeysParams{Keys: []string{key.Key}})
	if err != nil || len(locked) != 1 || !locked[0].Used {
		t.Fatalf("lock of a used key: %+v, %v; want it locked and used (a replay)", locked, err)
	}
	if err := q.AwaitReplicaOfReplay(ctx, tx, []string{key.Key}); err != nil {
		t.Fatal(err)
	}
	var xid bool
	if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id_if_assigned() IS NOT NULL`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	if !xid {
		t.Error("a replay's transaction under READ COMMITTED has no xid: its COMMIT does not wait for a synchronous standby")
	}
}
