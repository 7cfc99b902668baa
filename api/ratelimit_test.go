package api_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/evento-lab/evento/api"
)

// Each client has its own bucket: alice's burst passes, her next request
// is 429 rate_limited with an honest Retry-After (a token every 2 s), bob
// is not slowed by her, and once she has waited as told she gets in.
func TestRateLimitIsPerClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{Auth: api.AuthKeys, RateLimit: 0.5, RateBurst: 2})
	alice, bob := f.addClient(t, "alice", 0), f.addClient(t, "bob", 0)
	path := fmt.Sprintf("/%d/available", f.eventID)
	for i := range 2 {
		if r := f.withKey(t, "GET", path, "", alice); r.status != http.StatusOK {
			t.Fatalf("alice's request %d of her burst of 2: %d %s", i+1, r.status, r.raw)
		}
	}
	before := f.dbState(t)
	refused := f.withKey(t, "POST", f.reservePath(0, "atomic"), `{"name":"alice","rooms":1}`, alice)
	if refused.status != http.StatusTooManyRequests || errorCode(t, refused) != "rate_limited" {
		t.Fatalf("past her burst: %d %s", refused.status, refused.raw)
	}
	f.assertUnchanged(t, before)
	wait, err := strconv.Atoi(refused.header.Get("Retry-After"))
	if err != nil || wait != 2 {
		t.Fatalf("Retry-After %q: want 2 (one token every 2 s, rounded up)", refused.header.Get("Retry-After"))
	}
	for i := range 2 {
		if r := f.withKey(t, "GET", path, "", bob); r.status != http.StatusOK {
			t.Fatalf("bob's request %d, beside alice's: %d %s", i+1, r.status, r.raw)
		}
	}
	time.Sleep(time.Duration(wait) * time.Second)
	if r := f.withKey(t, "POST", f.reservePath(0, "atomic"), `{"name":"alice","rooms":1}`, alice); r.status != http.StatusCreated {
		t.Fatalf("alice after Retry-After: %d %s", r.status, r.raw)
	}
}

// Without a limit, and under --auth none unless one is set, nobody is
// slowed: the lab's runs send every client's requests as the anonymous one.
func TestNoRateLimitByDefault(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	for i := range 200 {
		if r := f.do(t, "GET", fmt.Sprintf("/%d/available", f.eventID), ""); r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i+1, r.status, r.raw)
		}
	}
}
