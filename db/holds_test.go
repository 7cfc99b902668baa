package db_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
)

// checkHoldInvariants asserts, in one snapshot, what must hold at every
// instant: locked equals the rooms of holds in 'held', reserved equals the
// rooms of reservation rows, and nothing exceeds assigned.
func checkHoldInvariants(t *testing.T, pool *pgxpool.Pool, hotelID int64) (assigned, reserved, locked int32) {
	t.Helper()
	var held, booked int32
	err := pool.QueryRow(testContext(t), holdCounters, hotelID).Scan(&assigned, &reserved, &locked, &held, &booked)
	if err != nil {
		t.Fatal(err)
	}
	if locked != held || reserved != booked || reserved+locked > assigned || locked < 0 {
		t.Fatalf("invariants broken: assigned %d reserved %d (rows %d) locked %d (held %d)", assigned, reserved, booked, locked, held)
	}
	return assigned, reserved, locked
}

// holdCounters reads a hotel's counters, and the rooms of its live holds
// and of its reservation rows, which they must equal.
const holdCounters = `
	SELECT ehr.assigned, ehr.reserved, ehr.locked,
	       coalesce((SELECT sum(rooms) FROM holds WHERE event_hotel_rooms_id = ehr.id AND state = 'held'), 0)::int,
	       coalesce((SELECT sum(number) FROM reservations WHERE event_hotel_rooms_id = ehr.id), 0)::int
	  FROM event_hotel_rooms ehr WHERE ehr.hotel_id = $1`

// backdate makes a hold overdue without waiting for its TTL.
func backdate(t *testing.T, pool *pgxpool.Pool, handle string) {
	t.Helper()
	if _, err := pool.Exec(testContext(t), `UPDATE holds SET expires_at = clock_timestamp() - interval '1 second' WHERE handle = $1`, handle); err != nil {
		t.Fatal(err)
	}
}

func TestHoldLifecycle(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 10)
	pool, hotel, ctx := bundle.pool, bundle.hotel, bundle.ctx
	ref := func(h evento.Hold) evento.HoldRef {
		return evento.HoldRef{EventID: hotel.EventID, HotelID: hotel.HotelID, Handle: h.Handle}
	}

	first := mustHold(t, store, hotel, "alice", 3, time.Minute)
	if first.State != evento.HoldHeld || time.Until(first.ExpiresAt) < 50*time.Second {
		t.Fatalf("hold = %+v", first)
	}
	if _, reserved, locked := checkHoldInvariants(t, pool, hotel.HotelID); reserved != 0 || locked != 3 {
		t.Fatalf("after hold: reserved %d locked %d", reserved, locked)
	}
	if avail, _ := store.Hotel(ctx, hotel.EventID, hotel.HotelID); avail.Available() != 7 {
		t.Fatalf("available %d, want 7 while 3 are held", avail.Available())
	}

	booking, replayed, err := confirmHold(ctx, store, ref(first))
	if err != nil || replayed || booking.Rooms != 3 {
		t.Fatalf("confirm: %+v %v %v", booking, replayed, err)
	}
	again, replayed, err := confirmHold(ctx, store, ref(first))
	if err != nil || !replayed || again.ReservationID != booking.ReservationID {
		t.Fatalf("second confirm: %+v replayed %v err %v; want the same reservation %d", again, replayed, err, booking.ReservationID)
	}
	if err := store.ReleaseHold(ctx, ref(first)); !errors.Is(err, evento.ErrHoldConfirmed) {
		t.Fatalf("release a confirmed hold: %v", err)
	}
	if got, _ := store.Hold(ctx, ref(first)); got.State != evento.HoldConfirmed || got.ReservationID != booking.ReservationID {
		t.Fatalf("get confirmed hold: %+v", got)
	}

	second := mustHold(t, store, hotel, "alice", 4, time.Minute)
	if err := store.ReleaseHold(ctx, ref(second)); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := store.ReleaseHold(ctx, ref(second)); err != nil {
		t.Fatalf("release twice: %v", err)
	}
	if _, _, err := confirmHold(ctx, store, ref(second)); !errors.Is(err, evento.ErrHoldReleased) {
		t.Fatalf("confirm a released hold: %v", err)
	}
	if _, reserved, locked := checkHoldInvariants(t, pool, hotel.HotelID); reserved != 3 || locked != 0 {
		t.Fatalf("after release: reserved %d locked %d", reserved, locked)
	}

	if _, err := placeHold(ctx, store, evento.HoldRequest{BookRequest: hotel.request("bob", 8), TTL: time.Minute}); !errors.Is(err, evento.ErrInsufficientRooms) {
		t.Fatalf("hold 8 of 7: %v", err)
	}
	other := evento.HoldRef{EventID: hotel.EventID, HotelID: hotel.HotelID + 99, Handle: first.Handle}
	if _, err := store.Hold(ctx, other); !errors.Is(err, evento.ErrNotFound) {
		t.Fatalf("hold under another hotel: %v", err)
	}
}

// A hold whose TTL passes is dead at once: shown as expired, refused at
// confirm, and its rooms available to the very next request, all before
// any sweeper runs. Uses the real clock and a 1-second TTL.
func TestExpiredHoldFreesRoomsBeforeAnySweep(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 5)
	pool, hotel, ctx := bundle.pool, bundle.hotel, bundle.ctx
	h := mustHold(t, store, hotel, "walks-away", 5, time.Second)
	ref := evento.HoldRef{EventID: hotel.EventID, HotelID: hotel.HotelID, Handle: h.Handle}
	// Held, not sold: told to wait until the hold expires.
	_, err := reserve(ctx, store, mustStrategy(t, "atomic"), hotel.request("bob", 1))
	var shortfall *evento.ShortfallError
	if !errors.Is(err, evento.ErrRoomsHeld) || !errors.As(err, &shortfall) || shortfall.Held != 5 || !shortfall.HeldUntil.Equal(h.ExpiresAt) {
		t.Fatalf("reserve while all 5 are held: %v, want rooms held until %s", err, h.ExpiresAt)
	}
	time.Sleep(time.Until(h.ExpiresAt) + 50*time.Millisecond)

	if got, _ := store.Hold(ctx, ref); got.State != evento.HoldExpired {
		t.Fatalf("state after expiry: %s", got.State)
	}
	if avail, _ := store.Hotel(ctx, hotel.EventID, hotel.HotelID); avail.Available() != 5 || avail.Locked != 0 {
		t.Fatalf("availability after expiry: %+v", avail)
	}
	if _, _, err := confirmHold(ctx, store, ref); !errors.Is(err, evento.ErrHoldExpired) {
		t.Fatalf("confirm after expiry: %v", err)
	}
	for _, name := range []string{"pessimistic", "atomic", "optimistic", "naive"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Its own deadline: a parallel subtest may wait long for a slot
			// on a busy machine, past the parent's.
			ctx := testContext(t)
			hotel := seedHotel(t, pool, 5)
			backdate(t, pool, mustHold(t, store, hotel, "walks-away", 5, time.Minute).Handle)
			if _, err := reserve(ctx, store, mustStrategy(t, name), hotel.request("next", 5)); err != nil {
				t.Fatalf("the next request after expiry: %v", err)
			}
			if _, reserved, locked := checkHoldInvariants(t, pool, hotel.HotelID); reserved != 5 || locked != 0 {
				t.Fatalf("reserved %d locked %d", reserved, locked)
			}
		})
	}
}
