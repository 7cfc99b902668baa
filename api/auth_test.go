package api_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
)

// withKey sends a request as the client whose API key is key.
func (f *fixture) withKey(t *testing.T, method, path, body, key string, extra ...string) response {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + key}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return f.send(t, method, path, body, h)
}

func (f *fixture) addClient(t *testing.T, name string, maxHeldRooms int32) string {
	t.Helper()
	_, key, err := db.CreateClient(context.Background(), f.pool, name, maxHeldRooms, 0)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// secondServer serves the same database as f, as another server would,
// with a cache of keys of its own.
func (f *fixture) secondServer(t *testing.T, opts api.Options) *fixture {
	t.Helper()
	g := *f
	g.server = serve(t, f.pool, opts)
	return &g
}

// With --auth keys, every request but /healthz needs a live key, and a
// request without one is refused before anything is read or written.
func TestAuthKeysRequiresAKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{Auth: api.AuthKeys})
	alice := f.addClient(t, "alice", 0)
	before := f.dbState(t)
	for _, c := range []struct{ name, header string }{
		{"no header", ""},
		{"unknown key", "Bearer evk_" + "A0000000000000000000000000000000000000000000"},
		{"basic auth", "Basic YWxpY2U6c2VjcmV0"},
		{"bearer without a key", "Bearer "},
		{"the key without its scheme", alice},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.header != "" {
				h.Set("Authorization", c.header)
			}
			for _, req := range []struct{ method, path, body string }{
				{"POST", f.reservePath(0, "atomic"), `{"name":"mallory","rooms":1}`},
				{"POST", f.holdsPath(0), `{"name":"mallory","rooms":1}`},
				{"GET", fmt.Sprintf("/%d/available", f.eventID), ""},
				{"GET", "/no/such/path/at/all", ""},
			} {
				r := f.send(t, req.method, req.path, req.body, h)
				if r.status != http.StatusUnauthorized || errorCode(t, r) != "unauthenticated" || r.header.Get("WWW-Authenticate") == "" {
					t.Fatalf("%s %s: %d %s %v", req.method, req.path, r.status, r.raw, r.header)
				}
			}
		})
	}
	f.assertUnchanged(t, before)
	if r := f.do(t, "GET", "/healthz", ""); r.status != http.StatusOK {
		t.Fatalf("healthz needs no key: %d %s", r.status, r.raw)
	}
	if r := f.withKey(t, "POST", f.reservePath(0, "atomic"), `{"name":"alice","rooms":1}`, alice); r.status != http.StatusCreated {
		t.Fatalf("alice's booking: %d %s", r.status, r.raw)
	}

	// A revoked key is refused by a server that has not cached it.
	if _, _, err := db.RevokeClient(context.Background(), f.pool, "alice"); err != nil {
		t.Fatal(err)
	}
	g := f.secondServer(t, api.Options{Auth: api.AuthKeys})
	if r := g.withKey(t, "GET", fmt.Sprintf("/%d/available", f.eventID), "", alice); r.status != http.StatusUnauthorized {
		t.Fatalf("a revoked key: %d %s", r.status, r.raw)
	}
}

// A hold is its placer's: another client, the anonymous one included, and
// a walk over handles or row ids all meet the same 404, and change
// nothing. Handles are 128 random bits, not a sequence.
func TestHoldsBelongToWhoeverPlacedThem(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{Auth: api.AuthKeys})
	alice, bob := f.addClient(t, "alice", 0), f.addClient(t, "bob", 0)
	first := f.withKey(t, "POST", f.holdsPath(0), `{"name":"alice","rooms":2}`, alice)
	second := f.withKey(t, "POST", f.holdsPath(0), `{"name":"alice","rooms":1}`, alice)
	if first.status != http.StatusCreated || second.status != http.StatusCreated {
		t.Fatalf("alice's holds: %d %s / %d %s", first.status, first.raw, second.status, second.raw)
	}
	handle := regexp.MustCompile(`^hold_[A-Za-z0-9_-]{22}$`)
	h1, _ := first.body["hold_id"].(string)
	h2, _ := second.body["hold_id"].(string)
	if !handle.MatchString(h1) || !handle.MatchString(h2) || h1 == h2 {
		t.Fatalf("hold ids %q and %q: want two distinct 128-bit handles", h1, h2)
	}
	mine := fmt.Sprintf("%s/%s", f.holdsPath(0), h1)
	anonymous := f.secondServer(t, api.Options{Auth: api.AuthNone})

	before := f.dbState(t)
	var answers []string
	for _, c := range []struct{ name, method, path, key string }{
		{"bob reads alice's hold", "GET", mine, bob},
		{"bob confirms alice's hold", "POST", mine + "/confirm", bob},
		{"bob releases alice's hold", "DELETE", mine, bob},
		{"bob walks row ids", "GET", f.holdsPath(0) + "/1", bob},
		{"bob guesses a handle", "GET", f.holdsPath(0) + "/hold_AAAAAAAAAAAAAAAAAAAAAA", bob},
	} {
		r := f.withKey(t, c.method, c.path, "", c.key)
		if r.status != http.StatusNotFound || errorCode(t, r) != "not_found" {
			t.Fatalf("%s: %d %s", c.name, r.status, r.raw)
		}
		answers = append(answers, r.raw)
	}
	for _, method := range []string{"GET", "DELETE"} {
		if r := anonymous.do(t, method, mine, ""); r.status != http.StatusNotFound {
			t.Fatalf("the anonymous client %s alice's hold: %d %s", method, r.status, r.raw)
		}
	}
	f.assertUnchanged(t, before)
	// Someone else's hold and no hold at all read the same, word for word.
	if answers[0] != answers[4] {
		t.Fatalf("another's hold answers %s, a missing one %s: they must not differ", answers[0], answers[4])
	}
	if r := f.withKey(t, "POST", mine+"/confirm", "", alice); r.status != http.StatusCreated {
		t.Fatalf("alice confirms her own: %d %s", r.status, r.raw)
	}
}

// Idempotency keys are per client: bob's order-18 is not alice's, so
// neither can squat the other's key nor replay the other's booking.
func TestIdempotencyKeysArePerClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{Auth: api.AuthKeys})
	alice, bob := f.addClient(t, "alice", 0), f.addClient(t, "bob", 0)
	path := f.reservePath(0, "atomic")
	a := f.withKey(t, "POST", path, `{"name":"alice","rooms":2}`, alice, "Idempotency-Key", "order-18")
	// The same key and the very same body: were keys shared, bob would
	// get alice's booking replayed.
	b := f.withKey(t, "POST", path, `{"name":"alice","rooms":2}`, bob, "Idempotency-Key", "order-18")
	if a.status != http.StatusCreated || b.status != http.StatusCreated || b.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("alice %d %s, bob %d %s %v", a.status, a.raw, b.status, b.raw, b.header)
	}
	if a.body["reservation_id"] == b.body["reservation_id"] {
		t.Fatalf("bob was handed alice's reservation: %s", b.raw)
	}
	replay := f.withKey(t, "POST", path, `{"name":"alice","rooms":2}`, alice, "Idempotency-Key", "order-18")
	if replay.raw != a.raw || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("alice's replay: %s, want %s", replay.raw, a.raw)
	}
	if r := f.do(t, "GET", fmt.Sprintf("/%d/%d/available", f.eventID, f.hotels[0].HotelID), ""); r.status != http.StatusUnauthorized {
		t.Fatalf("no key: %d", r.status)
	}
	if avail := f.withKey(t, "GET", fmt.Sprintf("/%d/%d/available", f.eventID, f.hotels[0].HotelID), "", bob); avail.body["reserved"] != 4.0 {
		t.Fatalf("two bookings of 2 rooms each, one replay: %s", avail.raw)
	}
}

// One client may hold at most its cap at once, over every hotel: past it,
// 429 hold_limit and nothing changes. A client's own cap beats the
// server's, and rooms come back under the cap once a hold is released.
func TestHoldCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{Auth: api.AuthKeys, MaxHeldRooms: 6})
	squatter, small := f.addClient(t, "squatter", 0), f.addClient(t, "small", 2)
	var last response
	for i, hotel := range []int{0, 1, 0} {
		last = f.withKey(t, "POST", f.holdsPath(hotel), `{"name":"s","rooms":2,"ttl_seconds":900}`, squatter)
		if last.status != http.StatusCreated {
			t.Fatalf("hold %d: %d %s", i+1, last.status, last.raw)
		}
	}
	before := f.dbState(t)
	for _, c := range []struct {
		key, hotel int
		rooms      string
	}{{0, 1, "1"}, {0, 0, "1"}, {1, 0, "3"}} {
		key := []string{squatter, small}[c.key]
		r := f.withKey(t, "POST", f.holdsPath(c.hotel), `{"name":"s","rooms":`+c.rooms+`}`, key)
		if r.status != http.StatusTooManyRequests || errorCode(t, r) != "hold_limit" {
			t.Fatalf("over the cap: %d %s", r.status, r.raw)
		}
	}
	f.assertUnchanged(t, before)
	// Someone else still books: the squatter held 6 of 20 rooms, not all.
	if r := f.withKey(t, "POST", f.reservePath(0, "atomic"), `{"name":"small","rooms":5}`, small); r.status != http.StatusCreated {
		t.Fatalf("another client books: %d %s", r.status, r.raw)
	}
	if r := f.withKey(t, "DELETE", fmt.Sprintf("%s/%s", f.holdsPath(0), last.body["hold_id"]), "", squatter); r.status != http.StatusNoContent {
		t.Fatalf("release: %d %s", r.status, r.raw)
	}
	if r := f.withKey(t, "POST", f.holdsPath(1), `{"name":"s","rooms":2}`, squatter); r.status != http.StatusCreated {
		t.Fatalf("a hold under the cap again: %d %s", r.status, r.raw)
	}
}

// An anonymous key shaped like a stored API client's key ("c5:order-1")
// is refused: it would be that client's key, on a shared database.
func TestAnonymousKeysCannotLookScoped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	before := f.dbState(t)
	r := f.doWithKey(t, "POST", f.reservePath(0, "atomic"), `{"name":"mallory","rooms":1}`, "c5:order-1")
	if r.status != http.StatusBadRequest || errorCode(t, r) != "invalid_request" {
		t.Fatalf("c5:order-1 from the anonymous client: %d %s", r.status, r.raw)
	}
	f.assertUnchanged(t, before)
	if r := f.doWithKey(t, "POST", f.reservePath(0, "atomic"), `{"name":"alice","rooms":1}`, "c:order-1"); r.status != http.StatusCreated {
		t.Fatalf("an ordinary key starting with c: %d %s", r.status, r.raw)
	}
}

// Release and re-hold cannot keep rooms: once mallory's hold ends, she may
// not hold at that hotel again for the cooldown, on any server of the
// database (429 hold_cooldown, Retry-After the seconds left), so the buyer
// waiting for the rooms gets them. She still books without a hold, and
// holds at another hotel.
func TestHoldCooldownStopsReleaseAndRehold(t *testing.T) {
	t.Parallel()
	opts := api.Options{Auth: api.AuthKeys, MaxHeldRooms: 10, HoldCooldown: 15 * time.Minute}
	f := newFixture(t, 5, opts)
	g := f.secondServer(t, opts)
	mallory, victim := f.addClient(t, "mallory", 0), f.addClient(t, "victim", 0)
	held := f.withKey(t, "POST", f.holdsPath(0), `{"name":"m","rooms":5,"ttl_seconds":900}`, mallory)
	if held.status != http.StatusCreated {
		t.Fatalf("hold: %d %s", held.status, held.raw)
	}
	waiting := g.withKey(t, "POST", g.reservePath(0, "atomic"), `{"name":"v","rooms":2}`, victim)
	if waiting.status != http.StatusConflict || errorCode(t, waiting) != "rooms_held" {
		t.Fatalf("the victim while the rooms are held: %d %s", waiting.status, waiting.raw)
	}
	if r := f.withKey(t, "DELETE", fmt.Sprintf("%s/%s", f.holdsPath(0), held.body["hold_id"]), "", mallory); r.status != http.StatusNoContent {
		t.Fatalf("release: %d %s", r.status, r.raw)
	}
	again := g.withKey(t, "POST", g.holdsPath(0), `{"name":"m","rooms":5,"ttl_seconds":900}`, mallory)
	if again.status != http.StatusTooManyRequests || errorCode(t, again) != "hold_cooldown" {
		t.Fatalf("re-hold on another server: %d %s", again.status, again.raw)
	}
	if s, err := strconv.Atoi(again.header.Get("Retry-After")); err != nil || s < 890 || s > 900 {
		t.Fatalf("Retry-After %q; want the cooldown's 900 s, less the time since the release", again.header.Get("Retry-After"))
	}
	if r := g.withKey(t, "POST", g.reservePath(0, "atomic"), `{"name":"v","rooms":2}`, victim); r.status != http.StatusCreated {
		t.Fatalf("the victim after the release: %d %s", r.status, r.raw)
	}
	if r := f.withKey(t, "POST", f.reservePath(0, "atomic"), `{"name":"m","rooms":1}`, mallory); r.status != http.StatusCreated {
		t.Fatalf("mallory books without a hold: %d %s", r.status, r.raw)
	}
	if r := f.withKey(t, "POST", f.holdsPath(1), `{"name":"m","rooms":1}`, mallory); r.status != http.StatusCreated {
		t.Fatalf("mallory holds at another hotel: %d %s", r.status, r.raw)
	}
}
