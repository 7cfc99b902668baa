package db_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/dbtest"
)

// The sharded strategy, step by step (see queries/sharded.sql): a locked
// bucket is skipped rather than waited for; the last rooms, scattered over
// buckets, still sell; and a booking across buckets decides from their
// latest counters, after waiting for them.

// bucketsReserved lists the hotel's buckets' reserved counters, in order.
func bucketsReserved(t *testing.T, pool *pgxpool.Pool, hotel testHotel) []int32 {
	t.Helper()
	rows, _ := pool.Query(testContext(t), `
		SELECT rb.reserved FROM room_buckets rb
		  JOIN event_hotel_rooms ehr ON ehr.id = rb.event_hotel_rooms_id
		 WHERE ehr.hotel_id = $1 ORDER BY rb.bucket`, hotel.HotelID)
	reserved, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return reserved
}

// s1 books bucket 1 and keeps its lock; s2 must not queue behind it but
// book bucket 2 while s1 is still open. Without SKIP LOCKED, s2 waits for
// s1 as every booking of a one-row hotel does.
func TestShardedSkipsALockedBucket(t *testing.T) {
	t.Parallel()
	p := newPair(t, "sharded", 10, 2)
	p.s1.run(p.strategy, p.hotel.request("alice", 5), false)
	p.s1.succeeds("s1")
	p.s2.run(p.strategy, p.hotel.request("bob", 5), false)
	p.s2.succeeds("s2 beside s1's open transaction")
	p.s2.commit()
	p.s1.commit()
	if got := bucketsReserved(t, p.pool, p.hotel); !slices.Equal(got, []int32{5, 5}) {
		t.Fatalf("buckets reserved %v, want [5 5]: each session booked a bucket of its own", got)
	}
	assertBooked(t, p.pool, p.hotel, 10)
}

// One room in each of four buckets: s1 books bucket 1 and keeps its lock.
// s2 asks for 2 rooms, which no single bucket has: it must wait for every
// bucket (PostgreSQL shows it waiting on s1), then book 2 of the 3 rooms
// left, across two buckets. Skipping what it cannot take whole would have
// told it "insufficient rooms" with 3 left.
func TestShardedSellsTheLastRoomsScattered(t *testing.T) {
	t.Parallel()
	p := newPair(t, "sharded", 4, 4)
	o := p.secondWaitsForFirst(1, 2, false)
	p.s2.commit()
	if o.err != nil {
		t.Fatalf("s2, 2 of the 3 rooms left in three buckets: %v", o.err)
	}
	if got := bucketsReserved(t, p.pool, p.hotel); !slices.Equal(got, []int32{1, 1, 1, 0}) {
		t.Fatalf("buckets reserved %v, want [1 1 1 0]", got)
	}
	assertBooked(t, p.pool, p.hotel, 3)
}

// Two buckets of 2: s1 books bucket 1 whole and keeps its lock. s2 asks
// for 3, which no bucket has: it waits for every bucket, and must then see
// what s1 left (2 rooms, in bucket 2), not what its snapshot said (4):
// insufficient rooms, with 2 available. Deciding from the snapshot would
// book 5 of 4 rooms (the CHECK on the bucket would catch it, as a 500).
func TestShardedScatteredRechecksAfterWaiting(t *testing.T) {
	t.Parallel()
	p := newPair(t, "sharded", 4, 2)
	o := p.secondWaitsForFirst(2, 3, false)
	p.s2.commit()
	var shortfall *evento.ShortfallError
	if !errors.Is(o.err, evento.ErrInsufficientRooms) || !errors.As(o.err, &shortfall) || shortfall.Available != 2 {
		t.Fatalf("s2 after s1 took 2 of 4: err = %v, want insufficient rooms with 2 available", o.err)
	}
	assertBooked(t, p.pool, p.hotel, 2)
}

// Every bucket with room is locked and s2 waits for one; its holder takes
// the bucket's last rooms. s2 must then decide from all the buckets (here:
// sold out), not answer from the one it waited for.
func TestShardedDecidesFromAllBucketsWhenItsBucketFills(t *testing.T) {
	t.Parallel()
	p := newPair(t, "sharded", 2, 1)
	o := p.secondWaitsForFirst(2, 1, false)
	p.s2.commit()
	if !errors.Is(o.err, evento.ErrSoldOut) {
		t.Fatalf("s2 after the bucket it waited for filled: err = %v, want sold out", o.err)
	}
	assertBooked(t, p.pool, p.hotel, 2)
}

// holdBeforeLockingBuckets makes every statement of a session that sets
// evento.gate = 'on' stop after taking its snapshot and before it reads a
// bucket, until the gate's advisory lock is released: a row-level security
// policy whose check waits. It widens a window that exists anyway (between
// a statement's snapshot and its locking read) without changing any SQL.
func holdBeforeLockingBuckets(t *testing.T, pool *pgxpool.Pool) (open func()) {
	t.Helper()
	ctx := testContext(t)
	if _, err := pool.Exec(ctx, `
		CREATE FUNCTION gate() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
		BEGIN
			IF current_setting('evento.gate', true) = 'on' THEN
				PERFORM pg_advisory_xact_lock_shared(4242);
			END IF;
			RETURN true;
		END $$;
		ALTER TABLE room_buckets ENABLE ROW LEVEL SECURITY;
		ALTER TABLE room_buckets FORCE ROW LEVEL SECURITY;
		CREATE POLICY gate ON room_buckets USING (gate()) WITH CHECK (true);`); err != nil {
		t.Fatal(err)
	}
	gate, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gate.Release)
	if _, err := gate.Exec(ctx, `SELECT pg_advisory_lock(4242)`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, err := gate.Exec(ctx, `SELECT pg_advisory_unlock(4242)`); err != nil {
			t.Fatal(err)
		}
	}
}

// A locking read keeps a row it re-checked and rejected locked. Two
// buckets of 4: z holds bucket 1 (1 room booked); sc asks for 7, which no
// bucket has, and waits for every bucket in order, so for z. s asks for 3
// and takes its snapshot (4 and 4 free); y then books 2 in bucket 2. s's
// first pick skips bucket 1, locks bucket 2, finds 2 free and rejects it;
// it then waits for bucket 1. Had it kept bucket 2 locked, z's commit
// would close a cycle: sc holds bucket 1 and waits for bucket 2, s holds
// bucket 2 and waits for bucket 1 (40P01). It must give bucket 2 back
// before it waits (found by a review: with the picks in one statement,
// this deadlocked).
func TestShardedWaitsHoldingNoBucketItRejected(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 8)
	hotel := seedBuckets(t, pool, 8, 2)
	open := holdBeforeLockingBuckets(t, pool)
	sharded := mustStrategy(t, "sharded")
	ctx := testContext(t)

	z, sc, s, y := begin(t, pool), begin(t, pool), begin(t, pool), begin(t, pool)
	z.run(sharded, hotel.request("zoe", 1), false)
	z.succeeds("z")
	sc.run(sharded, hotel.request("scattered", 7), false)
	sc.waitBlockedOnLock(pool)
	if _, err := s.tx.Exec(ctx, `SELECT set_config('evento.gate', 'on', true)`); err != nil {
		t.Fatal(err)
	}
	s.run(sharded, hotel.request("sam", 3), false)
	s.waitBlockedOnLock(pool) // at the gate, its snapshot taken
	y.run(sharded, hotel.request("yves", 2), false)
	y.succeeds("y")
	y.commit()
	open()
	// s now waits for bucket 1 (z), holding nothing.
	waitFor(t, pool, 1, "s never waited for bucket 1", `SELECT count(*) FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND wait_event <> 'advisory' AND pid = $1`, int32(s.pid))
	z.commit()
	if o := sc.wait(); !errors.Is(o.err, evento.ErrInsufficientRooms) {
		t.Fatalf("sc, 7 of the 5 rooms left: err = %v, want insufficient rooms", o.err)
	}
	sc.commit()
	s.succeeds("s, 3 rooms once bucket 1 was free")
	s.commit()
	assertBooked(t, pool, hotel, 6)
}

// A hotel split into buckets is out of reach of every other strategy and
// of holds: they are told so (inventory_sharded), never "sold out" while
// its buckets have rooms, and nothing is written. The sharded strategy on
// a hotel that is not split books its row, as atomic does.
func TestShardedInventoryIsToldApart(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 6)
	pool, plain, ctx := bundle.pool, bundle.hotel, bundle.ctx
	split := seedBuckets(t, pool, 6, 3)
	for _, s := range []string{"naive", "pessimistic", "atomic", "optimistic", "serializable", "advisory", "batched"} {
		_, err := reserve(ctx, store, mustStrategy(t, s), split.request("alice", 1))
		var shortfall *evento.ShortfallError
		if !errors.Is(err, evento.ErrInventorySharded) || !errors.As(err, &shortfall) || shortfall.Bucketed != 6 {
			t.Fatalf("%s on a split hotel: err = %v, want inventory sharded with 6 rooms in buckets", s, err)
		}
	}
	_, err := placeHold(ctx, store, evento.HoldRequest{BookRequest: split.request("alice", 1), TTL: time.Minute})
	if !errors.Is(err, evento.ErrInventorySharded) {
		t.Fatalf("hold on a split hotel: err = %v, want inventory sharded", err)
	}
	assertBooked(t, pool, split, 0)

	sharded := mustStrategy(t, "sharded")
	if _, err := reserve(ctx, store, sharded, plain.request("bob", 6)); err != nil {
		t.Fatalf("sharded on a hotel that is not split: %v", err)
	}
	if _, err := reserve(ctx, store, sharded, plain.request("bob", 1)); !errors.Is(err, evento.ErrSoldOut) {
		t.Fatalf("sharded on a sold-out hotel that is not split: err = %v, want sold out", err)
	}
	assertBooked(t, pool, plain, 6)
}

// Every bucket with room is locked (s1 and s2 hold one each): s3 must wait
// for ONE of them, not for all. Whichever session it waits for (PostgreSQL
// says which), that session's commit alone lets s3 book, while the other
// still holds its bucket. Waiting for every bucket, as the scattered step
// does, would serialise the hotel whenever more bookings are in flight
// than it has buckets.
func TestShardedWaitsForOneBucketNotAll(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 6)
	hotel := seedBuckets(t, pool, 10, 2)
	sharded := mustStrategy(t, "sharded")

	s1, s2, s3 := begin(t, pool), begin(t, pool), begin(t, pool)
	for _, s := range []*session{s1, s2} {
		s.run(sharded, hotel.request("alice", 1), false)
		s.succeeds("booking a bucket")
	}
	s3.run(sharded, hotel.request("bob", 1), false)
	s3.waitBlockedOnLock(pool)
	var blockers []int32
	if err := pool.QueryRow(testContext(t), `SELECT pg_blocking_pids($1)`, int32(s3.pid)).Scan(&blockers); err != nil {
		t.Fatal(err)
	}
	first, other := s1, s2
	if slices.Contains(blockers, int32(s2.pid)) {
		first, other = s2, s1
	}
	first.commit()
	s3.succeeds("s3 once the bucket it waited for was free")
	s3.commit()
	other.commit()
	assertBooked(t, pool, hotel, 3)
}
