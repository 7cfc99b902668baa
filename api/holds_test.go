package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evento-lab/evento/api"
)

func (f *fixture) holdsPath(hotel int) string {
	return fmt.Sprintf("/%d/%d/holds", f.eventID, f.hotels[hotel].HotelID)
}

func (f *fixture) doWithKey(t *testing.T, method, path, body, key string) response {
	t.Helper()
	return f.send(t, method, path, body, http.Header{"Idempotency-Key": {key}})
}

func TestHoldEndpoints(t *testing.T) {
	t.Parallel()
	// Every hold here is the anonymous client's: no cap on what it holds
	// (TestHoldCap has one).
	f := newFixture(t, 10, api.Options{MaxHeldRooms: -1})
	r := f.do(t, "POST", f.holdsPath(0), `{"name":"alice","rooms":3,"ttl_seconds":120}`)
	if r.status != http.StatusCreated || r.body["state"] != "held" || r.body["rooms"] != 3.0 || r.body["name"] != "alice" {
		t.Fatalf("place hold: %d %s", r.status, r.raw)
	}
	expires, err := time.Parse(time.RFC3339, r.body["expires_at"].(string))
	if err != nil || time.Until(expires) < 110*time.Second || time.Until(expires) > 121*time.Second {
		t.Fatalf("expires_at %v (%v): want about 120s from now", r.body["expires_at"], err)
	}
	holdPath := fmt.Sprintf("%s/%s", f.holdsPath(0), r.body["hold_id"])

	avail := f.do(t, "GET", fmt.Sprintf("/%d/%d/available", f.eventID, f.hotels[0].HotelID), "")
	if avail.body["locked"] != 3.0 || avail.body["available"] != 7.0 {
		t.Fatalf("availability with a hold: %s", avail.raw)
	}
	if got := f.do(t, "GET", holdPath, ""); got.status != 200 || got.body["state"] != "held" {
		t.Fatalf("get hold: %d %s", got.status, got.raw)
	}

	c := f.do(t, "POST", holdPath+"/confirm", "")
	if c.status != http.StatusCreated || c.body["rooms"] != 3.0 || c.body["reservation_id"] == nil {
		t.Fatalf("confirm: %d %s", c.status, c.raw)
	}
	again := f.do(t, "POST", holdPath+"/confirm", "{}")
	if again.status != http.StatusOK || again.body["reservation_id"] != c.body["reservation_id"] {
		t.Fatalf("confirm again: %d %s; want 200 with reservation %v", again.status, again.raw, c.body["reservation_id"])
	}
	if got := f.do(t, "GET", holdPath, ""); got.body["state"] != "confirmed" || got.body["reservation_id"] != c.body["reservation_id"] {
		t.Fatalf("get confirmed hold: %s", got.raw)
	}
	if d := f.do(t, "DELETE", holdPath, ""); d.status != http.StatusConflict || errorCode(t, d) != "hold_confirmed" {
		t.Fatalf("release confirmed: %d %s", d.status, d.raw)
	}

	r = f.do(t, "POST", f.holdsPath(0), `{"name":"bob","rooms":2}`)
	bobPath := fmt.Sprintf("%s/%s", f.holdsPath(0), r.body["hold_id"])
	if d := f.do(t, "DELETE", bobPath, ""); d.status != http.StatusNoContent || d.raw != "" {
		t.Fatalf("release: %d %q", d.status, d.raw)
	}
	if c := f.do(t, "POST", bobPath+"/confirm", ""); c.status != http.StatusConflict || errorCode(t, c) != "hold_released" {
		t.Fatalf("confirm released: %d %s", c.status, c.raw)
	}

	r = f.do(t, "POST", f.holdsPath(0), `{"name":"carol","rooms":2,"ttl_seconds":1}`)
	carolPath := fmt.Sprintf("%s/%s", f.holdsPath(0), r.body["hold_id"])
	time.Sleep(1100 * time.Millisecond)
	if got := f.do(t, "GET", carolPath, ""); got.body["state"] != "expired" {
		t.Fatalf("hold after its ttl: %s", got.raw)
	}
	if c := f.do(t, "POST", carolPath+"/confirm", ""); c.status != http.StatusConflict || errorCode(t, c) != "hold_expired" {
		t.Fatalf("confirm expired: %d %s", c.status, c.raw)
	}
	if avail := f.do(t, "GET", fmt.Sprintf("/%d/%d/available", f.eventID, f.hotels[0].HotelID), ""); avail.body["available"] != 7.0 {
		t.Fatalf("an expired hold still counts: %s", avail.raw)
	}

	r = f.do(t, "POST", f.holdsPath(1), `{"name":"dave","rooms":5}`)
	r = f.do(t, "POST", f.holdsPath(1), `{"name":"dave","rooms":5}`)
	r = f.do(t, "POST", f.holdsPath(1), `{"name":"erin","rooms":1}`)
	// Held is not sold: the rooms come back when dave's holds expire, in
	// at most their TTL, which Retry-After says.
	if r.status != http.StatusConflict || errorCode(t, r) != "rooms_held" {
		t.Fatalf("hold at a fully held hotel: %d %s", r.status, r.raw)
	}
	if after, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || after < 1 || after > 300 {
		t.Fatalf("rooms_held with Retry-After %q, want the seconds until the rooms lacked are back (at most 300)", r.header.Get("Retry-After"))
	}
}

func TestBadHoldRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	r := f.do(t, "POST", f.holdsPath(0), `{"name":"alice","rooms":1}`)
	live := fmt.Sprintf("%s/%s", f.holdsPath(0), r.body["hold_id"])
	foreign := fmt.Sprintf("%s/%s", f.holdsPath(1), r.body["hold_id"])
	cases := []refusal{
		{"ttl zero", "POST", f.holdsPath(0), `{"name":"a","rooms":1,"ttl_seconds":0}`, 400, "invalid_request"},
		{"ttl past the server's maximum (15 min)", "POST", f.holdsPath(0), `{"name":"a","rooms":1,"ttl_seconds":901}`, 400, "invalid_request"},
		{"ttl fractional", "POST", f.holdsPath(0), `{"name":"a","rooms":1,"ttl_seconds":1.5}`, 400, "invalid_request"},
		{"rooms over max", "POST", f.holdsPath(0), `{"name":"a","rooms":6}`, 400, "invalid_request"},
		{"unknown field", "POST", f.holdsPath(0), `{"name":"a","rooms":1,"pay":true}`, 400, "invalid_request"},
		{"no name", "POST", f.holdsPath(0), `{"rooms":1}`, 400, "invalid_request"},
		{"ttl twice", "POST", f.holdsPath(0), `{"name":"a","rooms":1,"ttl_seconds":1,"ttl_seconds":900}`, 400, "duplicate_field"},
		// Whatever the shape of a wrong handle, the answer is a missing
		// hold's: a guess learns nothing.
		{"hold id not a handle", "GET", f.holdsPath(0) + "/x", "", 404, "not_found"},
		{"a row id, not a handle", "GET", f.holdsPath(0) + "/1", "", 404, "not_found"},
		{"unknown handle", "GET", f.holdsPath(0) + "/hold_AAAAAAAAAAAAAAAAAAAAAA", "", 404, "not_found"},
		{"hold of another hotel", "GET", foreign, "", 404, "not_found"},
		{"confirm hold of another hotel", "POST", foreign + "/confirm", "", 404, "not_found"},
		{"release hold of another hotel", "DELETE", foreign, "", 404, "not_found"},
		{"confirm with a body", "POST", live + "/confirm", `{"rooms":2}`, 400, "invalid_request"},
		{"hold at unknown event", "POST", fmt.Sprintf("/%d/%d/holds", f.eventID+50, f.hotels[0].HotelID), `{"name":"a","rooms":1}`, 404, "not_found"},
	}
	f.assertRefused(t, cases)
}

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	path := f.reservePath(0, "pessimistic")
	first := f.doWithKey(t, "POST", path, `{"name":"alice","rooms":2}`, "order-17")
	if first.status != http.StatusCreated || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %s %v", first.status, first.raw, first.header)
	}
	replay := f.doWithKey(t, "POST", path, `{"rooms":2, "name":"alice"}`, "order-17")
	if replay.status != http.StatusCreated || replay.raw != first.raw || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s %v; want %s", replay.status, replay.raw, replay.header, first.raw)
	}
	if r := f.doWithKey(t, "POST", path, `{"name":"alice","rooms":3}`, "order-17"); r.status != 422 || errorCode(t, r) != "idempotency_key_reused" {
		t.Fatalf("reuse with another body: %d %s", r.status, r.raw)
	}
	if r := f.doWithKey(t, "POST", f.reservePath(0, "atomic"), `{"name":"alice","rooms":2}`, "order-17"); r.status != 422 {
		t.Fatalf("reuse on another mode: %d %s", r.status, r.raw)
	}
	for _, bad := range []string{strings.Repeat("k", 256), "has space", "tab\there", "é"} {
		if r := f.doWithKey(t, "POST", path, `{"name":"alice","rooms":1}`, bad); r.status != 400 || errorCode(t, r) != "invalid_request" {
			t.Fatalf("key %q: %d %s", bad, r.status, r.raw)
		}
	}

	// Holds and confirms take keys too.
	h := f.doWithKey(t, "POST", f.holdsPath(0), `{"name":"bob","rooms":3}`, "hold-1")
	h2 := f.doWithKey(t, "POST", f.holdsPath(0), `{"name":"bob","rooms":3}`, "hold-1")
	if h.status != 201 || h2.raw != h.raw || h2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("hold replay: %s / %s", h.raw, h2.raw)
	}
	confirmPath := fmt.Sprintf("%s/%s/confirm", f.holdsPath(0), h.body["hold_id"])
	c1 := f.doWithKey(t, "POST", confirmPath, "", "confirm-1")
	c2 := f.doWithKey(t, "POST", confirmPath, "", "confirm-1")
	if c1.status != 201 || c2.status != 201 || c2.raw != c1.raw {
		t.Fatalf("confirm replay: %d %s / %d %s", c1.status, c1.raw, c2.status, c2.raw)
	}
	if fill := f.do(t, "POST", path, `{"name":"fill","rooms":4}`); fill.status != 201 {
		t.Fatalf("fill: %s", fill.raw)
	}
	full := f.doWithKey(t, "POST", path, `{"name":"carol","rooms":5}`, "big")
	full2 := f.doWithKey(t, "POST", path, `{"name":"carol","rooms":5}`, "big")
	if full.status != 409 || errorCode(t, full) != "insufficient_rooms" || full2.raw != full.raw || full2.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("a refusal resent: %d %s / %s; want the same answer afresh, not replayed", full.status, full.raw, full2.raw)
	}

	// A rooms_held is not kept either: resent once the hold is released,
	// the same key books (it was replayed for 24 h).
	held := f.do(t, "POST", f.holdsPath(1), `{"name":"erin","rooms":5}`)
	f.do(t, "POST", f.reservePath(1, "atomic"), `{"name":"fill","rooms":4}`)
	waiting := f.doWithKey(t, "POST", f.reservePath(1, "atomic"), `{"name":"frank","rooms":2}`, "wait")
	if held.status != 201 || waiting.status != 409 || errorCode(t, waiting) != "rooms_held" {
		t.Fatalf("behind a hold: %s / %d %s", held.raw, waiting.status, waiting.raw)
	}
	if r := f.do(t, "DELETE", fmt.Sprintf("%s/%s", f.holdsPath(1), held.body["hold_id"]), ""); r.status != 204 {
		t.Fatalf("release: %d %s", r.status, r.raw)
	}
	if r := f.doWithKey(t, "POST", f.reservePath(1, "atomic"), `{"name":"frank","rooms":2}`, "wait"); r.status != 201 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("the rooms_held key once the rooms are back: %d %s; want a booking", r.status, r.raw)
	}

	// Many identical requests at the same moment: one booking.
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = f.doWithKey(t, "POST", f.reservePath(1, "atomic"), `{"name":"dora","rooms":1}`, "burst").status
		})
	}
	wg.Wait()
	var rows int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM reservations WHERE name = 'dora'`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d bookings from 8 identical requests (statuses %v)", rows, statuses)
	}
	for _, s := range statuses {
		if s != 201 && s != 409 {
			t.Fatalf("statuses %v: want 201, or 409 request_in_progress", statuses)
		}
	}
}

// The attack of the security report, over HTTP: many distinct keys on a
// 404 leave no key row, and a squatter's 404 under a victim's future key
// does not stand in the way of the victim's real booking (201, not 422 or
// a replayed 404). Nothing is booked by the 404s.
func TestKeysOnNotFoundAreNotKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	missing := fmt.Sprintf("/%d/%d/reserve/atomic", f.eventID+100, f.hotels[0].HotelID)
	before := f.dbState(t)
	for i := range 50 {
		r := f.doWithKey(t, "POST", missing, `{"name":"mallory","rooms":1}`, fmt.Sprintf("flood-%d", i))
		if r.status != http.StatusNotFound || errorCode(t, r) != "not_found" {
			t.Fatalf("flood %d: %d %s", i, r.status, r.raw)
		}
	}
	squat := f.doWithKey(t, "POST", missing, `{"name":"mallory","rooms":5}`, "order-18")
	if squat.status != http.StatusNotFound || errorCode(t, squat) != "not_found" {
		t.Fatalf("squatter: %d %s", squat.status, squat.raw)
	}
	if again := f.doWithKey(t, "POST", missing, `{"name":"mallory","rooms":5}`, "order-18"); again.status != http.StatusNotFound ||
		again.header.Get(api.IdempotentReplayedHeader) != "" {
		t.Fatalf("a 404 was replayed: %d %s %v", again.status, again.raw, again.header)
	}
	f.assertUnchanged(t, before)
	var keys int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != 0 {
		t.Fatalf("%d idempotency keys kept after requests that found nothing; want 0", keys)
	}
	victim := f.doWithKey(t, "POST", f.reservePath(0, "atomic"), `{"name":"victim","rooms":2}`, "order-18")
	if victim.status != http.StatusCreated || victim.header.Get(api.IdempotentReplayedHeader) != "" || victim.body["rooms"] != 2.0 {
		t.Fatalf("victim after a squatter: %d %s", victim.status, victim.raw)
	}
}
