package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// The cap bounds how many rooms a client holds, the cooldown for how long:
// once a hold of alice's at a hotel ends, released or expired (swept or
// not), alice may not hold there again until the cooldown has passed, and
// is told until when. Another hotel, another client, and a booking without
// a hold are not held back. Without the cooldown, release and re-hold kept
// the rooms for ever.
func TestHoldCooldownFollowsEveryEndOfAHold(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 10)
	pool, ctx, first := bundle.pool, bundle.ctx, bundle.hotel
	second, third := seedHotel(t, pool, 10), seedHotel(t, pool, 10)
	alice, _, err := db.CreateClient(ctx, pool, "alice", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := db.CreateClient(ctx, pool, "bob", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	hold := func(who evento.ClientID, at testHotel, ttl, cooldown time.Duration) (evento.Hold, error) {
		return placeHold(ctx, store, evento.HoldRequest{
			BookRequest: asClient(at.request("x", 2), who), TTL: ttl, MaxHeldRooms: 10, Cooldown: cooldown,
		})
	}
	cooling := func(err error, within time.Duration) {
		t.Helper()
		var cooldown *evento.HoldCooldownError
		if !errors.As(err, &cooldown) || !errors.Is(err, evento.ErrHoldCooldown) {
			t.Fatalf("a hold during the cooldown: %v; want hold_cooldown", err)
		}
		if left := time.Until(cooldown.Until); left <= 0 || left > within {
			t.Fatalf("cooldown until %s, %s from now; want within %s", cooldown.Until, left, within)
		}
	}

	// Released: a minute's cooldown at this hotel, for alice only.
	h, err := hold(alice.ID, first, time.Minute, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.ReleaseHold(ctx, evento.HoldRef{EventID: first.EventID, HotelID: first.HotelID, Handle: h.Handle, Client: alice.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = hold(alice.ID, first, time.Minute, time.Minute)
	cooling(err, time.Minute)
	if _, err := hold(alice.ID, second, time.Minute, time.Minute); err != nil {
		t.Fatalf("alice at another hotel: %v", err)
	}
	if _, err := hold(bob.ID, first, time.Minute, time.Minute); err != nil {
		t.Fatalf("bob at the hotel alice released: %v", err)
	}
	if _, err := reserve(ctx, store, mustStrategy(t, "atomic"), first.request("alice", 1)); err != nil {
		t.Fatalf("alice books without a hold: %v", err)
	}

	// Expired, and not yet swept: the end is the expiry.
	if _, err := hold(alice.ID, third, time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	_, err = hold(alice.ID, third, time.Second, time.Minute)
	cooling(err, time.Minute)

	// And the cooldown ends: a short one, waited out.
	_, err = hold(alice.ID, first, time.Minute, 2*time.Second)
	var cooldown *evento.HoldCooldownError
	if errors.As(err, &cooldown) {
		time.Sleep(time.Until(cooldown.Until) + 50*time.Millisecond)
	}
	if _, err := hold(alice.ID, first, time.Minute, 2*time.Second); err != nil {
		t.Fatalf("alice once the cooldown is over: %v", err)
	}
}

// evento clients revoke gives the revoked client's held rooms back in the
// same statement, at every hotel, overdue holds included; its confirmed
// hold stays a reservation, and another client's hold stays held.
func TestRevokeReleasesTheClientsHolds(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 10)
	pool, ctx, first := bundle.pool, bundle.ctx, bundle.hotel
	second := seedHotel(t, pool, 10)
	alice, _, err := db.CreateClient(ctx, pool, "alice", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := db.CreateClient(ctx, pool, "bob", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	hold := func(who evento.ClientID, at testHotel, rooms int32, ttl time.Duration) evento.Hold {
		t.Helper()
		h, err := placeHold(ctx, store, evento.HoldRequest{BookRequest: asClient(at.request("x", rooms), who), TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	hold(alice.ID, first, 2, time.Minute)
	hold(alice.ID, second, 3, time.Minute)
	hold(alice.ID, second, 1, time.Second) // overdue by the revoke
	bought := hold(alice.ID, first, 1, time.Minute)
	if _, _, err := confirmHold(ctx, store, evento.HoldRef{EventID: first.EventID, HotelID: first.HotelID, Handle: bought.Handle, Client: alice.ID}); err != nil {
		t.Fatal(err)
	}
	hold(bob.ID, first, 4, time.Minute)
	time.Sleep(1100 * time.Millisecond)

	released, ok, err := db.RevokeClient(ctx, pool, "alice")
	if err != nil || !ok {
		t.Fatalf("revoke: %v, %v", ok, err)
	}
	if released != 6 {
		t.Fatalf("revoke released %d rooms; want alice's 6 held", released)
	}
	for _, h := range []struct {
		hotel          testHotel
		locked, booked int
	}{{first, 4, 1}, {second, 0, 0}} {
		locked := queryInt(t, pool, `SELECT locked FROM event_hotel_rooms WHERE event_id = $1 AND hotel_id = $2`, h.hotel.EventID, h.hotel.HotelID)
		inHolds := queryInt(t, pool, `SELECT coalesce(sum(h.rooms), 0)::int FROM holds AS h JOIN event_hotel_rooms AS ehr ON ehr.id = h.event_hotel_rooms_id
			WHERE ehr.event_id = $1 AND ehr.hotel_id = $2 AND h.state = 'held'`, h.hotel.EventID, h.hotel.HotelID)
		if locked != h.locked || inHolds != h.locked {
			t.Errorf("hotel %d: locked %d, in live holds %d; want %d (bob's)", h.hotel.HotelID, locked, inHolds, h.locked)
		}
		if booked := readTotals(t, pool, h.hotel.HotelID).booked; int(booked) != h.booked {
			t.Errorf("hotel %d: %d booked; want %d", h.hotel.HotelID, booked, h.booked)
		}
	}
	if _, ok, err := db.RevokeClient(ctx, pool, "alice"); ok || err != nil {
		t.Fatalf("a second revoke: %v, %v; want no live client", ok, err)
	}
}

// Finished holds do not pile up: the sweeper deletes released and expired
// holds once they have been finished for KeepHolds, and only those. A live
// hold, a confirmed one (its reservation's) and one finished too recently
// stay; a swept hold's handle reads as a hold that is not there.
func TestSweeperDeletesFinishedHoldsAfterTheirRetention(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 20)
	pool, ctx, hotel := bundle.pool, bundle.ctx, bundle.hotel
	ref := func(h evento.Hold) evento.HoldRef {
		return evento.HoldRef{EventID: hotel.EventID, HotelID: hotel.HotelID, Handle: h.Handle}
	}
	released := mustHold(t, store, hotel, "released", 1, time.Minute)
	if err := store.ReleaseHold(ctx, ref(released)); err != nil {
		t.Fatal(err)
	}
	mustHold(t, store, hotel, "expired", 1, time.Second)
	confirmed := mustHold(t, store, hotel, "confirmed", 1, time.Minute)
	if _, _, err := confirmHold(ctx, store, ref(confirmed)); err != nil {
		t.Fatal(err)
	}
	mustHold(t, store, hotel, "live", 1, time.Minute)
	time.Sleep(1100 * time.Millisecond)
	recent := mustHold(t, store, hotel, "recent", 1, time.Minute)
	if err := store.ReleaseHold(ctx, ref(recent)); err != nil {
		t.Fatal(err)
	}

	sweeper := db.Sweeper{Store: store, Interval: time.Hour, KeepHolds: time.Second, Log: discardLog()}
	if err := sweeper.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// The expired hold was marked expired by this very sweep: it is kept
	// from then on, like the hold released a moment ago.
	if n := queryInt(t, pool, `SELECT count(*) FROM holds`); n != 4 {
		t.Fatalf("%d holds after the first sweep; want all but the released one", n)
	}
	if _, err := store.Hold(ctx, ref(released)); !errors.Is(err, evento.ErrNotFound) {
		t.Fatalf("a swept hold: %v; want not found", err)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := sweeper.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	var left []string
	rows, err := pool.Query(ctx, `SELECT name FROM holds ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		left = append(left, name)
	}
	if rows.Err() != nil || len(left) != 2 || left[0] != "confirmed" || left[1] != "live" {
		t.Fatalf("holds left: %v, %v; want the confirmed and the live one", left, rows.Err())
	}
	if h, err := store.Hold(ctx, ref(confirmed)); err != nil || h.ReservationID == 0 {
		t.Fatalf("the confirmed hold: %+v %v", h, err)
	}
}

// A request refused because rooms are held is told when the rooms it lacks
// are back at the latest: the expiry of the last of them to come back, in
// order of expiry, not the soonest expiry of any hold, which told a
// request lacking 3 rooms to come back when 2 would be.
func TestRoomsHeldSaysWhenTheRoomsLackedComeBack(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 10)
	ctx, hotel := bundle.ctx, bundle.hotel
	soon := mustHold(t, store, hotel, "soon", 2, time.Minute)
	later := mustHold(t, store, hotel, "later", 3, 10*time.Minute)
	mustHold(t, store, hotel, "last", 5, 15*time.Minute)
	for rooms, want := range map[int32]time.Time{1: soon.ExpiresAt, 2: soon.ExpiresAt, 3: later.ExpiresAt, 5: later.ExpiresAt} {
		_, err := reserve(ctx, store, mustStrategy(t, "atomic"), hotel.request("late", rooms))
		var shortfall *evento.ShortfallError
		if !errors.As(err, &shortfall) || !errors.Is(err, evento.ErrRoomsHeld) {
			t.Fatalf("%d rooms: %v; want rooms_held", rooms, err)
		}
		if !shortfall.HeldUntil.Equal(want) {
			t.Errorf("%d rooms: back at %s; want %s", rooms, shortfall.HeldUntil, want)
		}
	}
}

// A revoke racing a confirm of the same client's hold, driven step by
// step: the confirm locks the hold first, the revoke waits on its row,
// then finds it confirmed and leaves it (and its rooms) alone, releasing
// the client's other hold. The rooms move once.
func TestRevokeRacingAConfirmLeavesTheReservation(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 4, 10)
	pool, ctx, hotel := bundle.pool, bundle.ctx, bundle.hotel
	alice, _, err := db.CreateClient(ctx, pool, "alice", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	hold := func(rooms int32) evento.Hold {
		t.Helper()
		h, err := placeHold(ctx, store, evento.HoldRequest{BookRequest: asClient(hotel.request("alice", rooms), alice.ID), TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	bought, other := hold(2), hold(3)
	confirm, revoke := begin(t, pool), begin(t, pool)
	confirm.runQueries(func(ctx context.Context, tx dbsqlc.DBTX) error {
		_, err := queries.ConfirmHold(ctx, tx, dbsqlc.ConfirmHoldParams{
			Handle: bought.Handle, ClientID: pgtype.Int8{Int64: int64(alice.ID), Valid: true}, EventID: hotel.EventID, HotelID: hotel.HotelID,
		})
		return err
	})
	confirm.succeeds("confirm")
	var released int32
	revoke.runQueries(func(ctx context.Context, tx dbsqlc.DBTX) error {
		r, _, err := db.RevokeClient(ctx, tx, "alice")
		released = r
		return err
	})
	revoke.waitBlockedOnLock(pool)
	confirm.commit()
	revoke.succeeds("revoke")
	revoke.commit()

	if released != other.Rooms {
		t.Fatalf("the revoke released %d rooms; want the other hold's %d", released, other.Rooms)
	}
	if _, reserved, locked := checkHoldInvariants(t, pool, hotel.HotelID); reserved != 2 || locked != 0 {
		t.Fatalf("reserved %d, locked %d; want the confirmed 2 and nothing held", reserved, locked)
	}
}

// asClient is req made by client.
func asClient(req evento.BookRequest, client evento.ClientID) evento.BookRequest {
	req.Client = client
	return req
}
