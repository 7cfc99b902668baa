package db_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// Confirm and release race for one hold, in both orders, driven step by
// step: the second waits on the hold's row lock, then finds it settled.
// Exactly one wins; the rooms move once.
func TestConfirmAndReleaseHaveOneWinner(t *testing.T) {
	t.Parallel()
	for _, confirmFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("confirm first %v", confirmFirst), func(t *testing.T) {
			t.Parallel()
			pool := dbtest.NewPool(t, 4)
			store := newStore(pool)
			hotel := seedHotel(t, pool, 5)
			h := mustHold(t, store, hotel, "alice", 2, time.Minute)
			confirm := func(ctx context.Context, tx dbsqlc.DBTX) error {
				_, err := queries.ConfirmHold(ctx, tx, dbsqlc.ConfirmHoldParams{Handle: h.Handle, EventID: hotel.EventID, HotelID: hotel.HotelID})
				return err
			}
			release := func(ctx context.Context, tx dbsqlc.DBTX) error {
				_, err := queries.ReleaseHold(ctx, tx, dbsqlc.ReleaseHoldParams{Handle: h.Handle, EventID: hotel.EventID, HotelID: hotel.HotelID})
				return err
			}
			first, second := confirm, release
			if !confirmFirst {
				first, second = release, confirm
			}
			s1, s2 := begin(t, pool), begin(t, pool)
			s1.runQueries(first)
			s1.succeeds("first")
			s2.runQueries(second)
			s2.waitBlockedOnLock(pool)
			s1.commit()
			if o := s2.wait(); !errors.Is(o.err, pgx.ErrNoRows) {
				t.Fatalf("second after first committed: %v, want no row changed", o.err)
			}
			s2.commit()

			_, reserved, locked := checkHoldInvariants(t, pool, hotel.HotelID)
			got, err := store.Hold(testContext(t), evento.HoldRef{EventID: hotel.EventID, HotelID: hotel.HotelID, Handle: h.Handle})
			if err != nil {
				t.Fatal(err)
			}
			if confirmFirst && (got.State != evento.HoldConfirmed || reserved != 2 || locked != 0) {
				t.Fatalf("confirm won: state %s reserved %d locked %d", got.State, reserved, locked)
			}
			if !confirmFirst && (got.State != evento.HoldReleased || reserved != 0 || locked != 0) {
				t.Fatalf("release won: state %s reserved %d locked %d", got.State, reserved, locked)
			}
		})
	}
}

// A confirm that locked a hold just before it expired wins over a sweeper
// that runs just after: the sweeper skips the locked hold instead of
// waiting, and never finds it again. The other way round, a hold the
// sweeper holds cannot be confirmed: it is past expiry.
func TestConfirmRacingExpiryHasOneWinner(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 5)
	pool, hotel, ctx := bundle.pool, bundle.hotel, bundle.ctx

	h := mustHold(t, store, hotel, "alice", 2, time.Second)
	confirmer := begin(t, pool)
	confirmer.runQueries(func(ctx context.Context, tx dbsqlc.DBTX) error {
		_, err := queries.ConfirmHold(ctx, tx, dbsqlc.ConfirmHoldParams{Handle: h.Handle, EventID: hotel.EventID, HotelID: hotel.HotelID})
		return err
	})
	confirmer.succeeds("confirm before expiry")
	time.Sleep(time.Until(h.ExpiresAt) + 50*time.Millisecond) // now past expiry, confirm not committed
	swept, err := sweep(ctx, pool)
	if err != nil || swept != 0 {
		t.Fatalf("sweep while the confirm holds the lock: %d holds, %v; want 0", swept, err)
	}
	confirmer.commit()
	if swept, _ := sweep(ctx, pool); swept != 0 {
		t.Fatalf("sweep after the confirm: %d holds", swept)
	}
	if _, reserved, locked := checkHoldInvariants(t, pool, hotel.HotelID); reserved != 2 || locked != 0 {
		t.Fatalf("reserved %d locked %d; want the confirm's 2", reserved, locked)
	}

	h2 := mustHold(t, store, hotel, "bob", 3, time.Minute)
	backdate(t, pool, h2.Handle)
	sweeper := begin(t, pool)
	sweeper.runQueries(func(ctx context.Context, tx dbsqlc.DBTX) error {
		_, err := sweep(ctx, tx)
		return err
	})
	sweeper.succeeds("sweeper")
	ref2 := evento.HoldRef{EventID: hotel.EventID, HotelID: hotel.HotelID, Handle: h2.Handle}
	if _, _, err := confirmHold(ctx, store, ref2); !errors.Is(err, evento.ErrHoldExpired) {
		t.Fatalf("confirm a hold the sweeper is expiring: %v", err)
	}
	sweeper.commit()
	if _, reserved, locked := checkHoldInvariants(t, pool, hotel.HotelID); reserved != 2 || locked != 0 {
		t.Fatalf("reserved %d locked %d", reserved, locked)
	}
}

// Two sweepers (two servers) over the same expired holds: the first locks
// them, the second skips them without waiting, and each hold's rooms come
// back exactly once. The lazy per-hotel expiry behaves the same.
func TestSweepersNeverExpireAHoldTwice(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 10)
	pool, hotel := bundle.pool, bundle.hotel
	for range 3 {
		backdate(t, pool, mustHold(t, store, hotel, "gone", 2, time.Minute).Handle)
	}
	s1, s2 := begin(t, pool), begin(t, pool)
	var first, second int64
	s1.runQueries(func(ctx context.Context, tx dbsqlc.DBTX) (err error) {
		first, err = sweep(ctx, tx)
		return err
	})
	if o := s1.wait(); o.err != nil || first != 3 {
		t.Fatalf("first sweeper: %d holds, %v", first, o.err)
	}
	s2.runQueries(func(ctx context.Context, tx dbsqlc.DBTX) (err error) {
		second, err = sweep(ctx, tx)
		if err != nil {
			return err
		}
		_, err = queries.ExpireHotelHolds(ctx, tx, dbsqlc.ExpireHotelHoldsParams{EventID: hotel.EventID, HotelID: hotel.HotelID})
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("lazy expiry found holds to free: %v", err)
		}
		return nil
	})
	if o := s2.wait(); o.err != nil || second != 0 {
		t.Fatalf("second sweeper while the first holds the locks: %d holds, %v", second, o.err)
	}
	s1.commit()
	s2.commit()
	if _, _, locked := checkHoldInvariants(t, pool, hotel.HotelID); locked != 0 {
		t.Fatalf("locked %d after sweeping", locked)
	}
}

// 60 goroutines mix reserves, holds, confirms, releases and abandoned
// holds on a 20-room hotel, while a checker reads the invariants in
// snapshots: never more than 20 rooms taken, locked always equal to the
// live holds, reserved always equal to the reservation rows.
func TestMixedHoldsAndReservesNeverExceedCapacity(t *testing.T) {
	t.Parallel()
	const clients, rooms = 60, 20
	store, bundle := setup(t, clients+5, rooms)
	pool, hotel, ctx := bundle.pool, bundle.hotel, bundle.ctx
	strategies := []db.Strategy{mustStrategy(t, "pessimistic"), mustStrategy(t, "atomic"), mustStrategy(t, "optimistic")}

	stop := make(chan struct{})
	checked := make(chan int)
	go func() {
		n := 0
		defer func() { checked <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
			if err != nil {
				t.Error(err)
				return
			}
			var assigned, reserved, locked, held, booked int32
			err = tx.QueryRow(ctx, holdCounters, hotel.HotelID).Scan(&assigned, &reserved, &locked, &held, &booked)
			_ = tx.Rollback(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			if locked != held || reserved != booked || reserved+locked > assigned {
				t.Errorf("snapshot %d: assigned %d reserved %d (rows %d) locked %d (held %d)", n, assigned, reserved, booked, locked, held)
				return
			}
			n++
		}
	}()

	var confirmed, released, reservedRooms atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Second)
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 3))
			for time.Now().Before(deadline) {
				time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
				req := hotel.request(fmt.Sprintf("c%d", c), int32(1+rng.IntN(2)))
				if rng.IntN(4) == 0 {
					b, err := reserve(ctx, store, strategies[rng.IntN(len(strategies))], req)
					if err == nil {
						reservedRooms.Add(int64(b.Rooms))
					}
					continue
				}
				h, err := placeHold(ctx, store, evento.HoldRequest{BookRequest: req, TTL: time.Duration(1+rng.IntN(2)) * time.Second})
				if err != nil {
					continue
				}
				ref := evento.HoldRef{EventID: hotel.EventID, HotelID: hotel.HotelID, Handle: h.Handle}
				switch n := rng.IntN(10); {
				case n < 4:
					if b, _, err := confirmHold(ctx, store, ref); err == nil {
						confirmed.Add(1)
						reservedRooms.Add(int64(b.Rooms))
					}
				case n < 8:
					if store.ReleaseHold(ctx, ref) == nil {
						released.Add(1)
					}
				default: // walk away; expiry or a sweeper frees the rooms
				}
			}
		})
	}
	sweeperCtx, stopSweeper := context.WithCancel(ctx)
	go db.Sweeper{Store: store, Interval: 50 * time.Millisecond, Log: discardLog()}.Run(sweeperCtx)
	wg.Wait()
	stopSweeper()
	close(stop)
	snapshots := <-checked

	_, reserved, _ := checkHoldInvariants(t, pool, hotel.HotelID)
	if int64(reserved) != reservedRooms.Load() {
		t.Fatalf("counter %d, acknowledged %d", reserved, reservedRooms.Load())
	}
	t.Logf("%d snapshots checked; %d confirms, %d releases, %d rooms reserved", snapshots, confirmed.Load(), released.Load(), reserved)
	if snapshots == 0 || confirmed.Load() == 0 || released.Load() == 0 {
		t.Fatalf("the mix did not exercise everything: %d snapshots, %d confirms, %d releases", snapshots, confirmed.Load(), released.Load())
	}
}
