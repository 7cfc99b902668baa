package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// hotelsSeen is a server that records the hotel path (/{event}/{hotel})
// of every request it answers.
type hotelsSeen struct {
	mu     sync.Mutex
	hotels map[string]int
}

func newHotelsSeen(t *testing.T) (*hotelsSeen, *httptest.Server) {
	seen := &hotelsSeen{hotels: map[string]int{}}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var event, hotel int
		fmt.Sscanf(r.URL.Path, "/%d/%d/", &event, &hotel)
		seen.mu.Lock()
		seen.hotels[fmt.Sprintf("%d/%d", event, hotel)]++
		seen.mu.Unlock()
		if r.Method == http.MethodGet {
			answer(http.StatusOK, `{"available":5}`)(w)
			return
		}
		answer(http.StatusCreated, `{"reservation_id":1,"rooms":1}`)(w)
	}))
	t.Cleanup(server.Close)
	return seen, server
}

// Routed by hotel, every request about one hotel, a check of its rooms as
// well as a booking, reaches the same server; different hotels reach
// different servers.
func TestRouteByHotelSendsEachHotelToOneServer(t *testing.T) {
	t.Parallel()
	a, serverA := newHotelsSeen(t)
	b, serverB := newHotelsSeen(t)
	api := NewAPI(Config{Servers: []string{serverA.URL, serverB.URL}, Route: ByHotel, RequestTimeout: time.Second})
	const hotels = 8
	for range 3 {
		for h := 1; h <= hotels; h++ {
			if _, err := api.available(context.Background(), Target{EventID: 1, HotelID: int64(h)}, ""); err != nil {
				t.Fatal(err)
			}
			if result, _, err := api.post(context.Background(), fmt.Sprintf("/1/%d/reserve/batched", h), nil, "", "", time.Second, &attemptInfo{}); result != succeeded {
				t.Fatalf("hotel %d: %v %v", h, result, err)
			}
		}
	}
	for h := 1; h <= hotels; h++ {
		hotel := fmt.Sprintf("1/%d", h)
		if a.hotels[hotel] > 0 && b.hotels[hotel] > 0 {
			t.Errorf("hotel %s reached both servers: %d and %d requests", hotel, a.hotels[hotel], b.hotels[hotel])
		}
	}
	if len(a.hotels) == 0 || len(b.hotels) == 0 {
		t.Errorf("%d hotels all went to one server: %v and %v", hotels, a.hotels, b.hotels)
	}
}

// Round-robin, the default, spreads one hotel's requests over every
// server: how the lab shows the races between servers.
func TestRouteRoundRobinSpreadsAHotelOverTheServers(t *testing.T) {
	t.Parallel()
	a, serverA := newHotelsSeen(t)
	b, serverB := newHotelsSeen(t)
	api := NewAPI(Config{Servers: []string{serverA.URL, serverB.URL}, RequestTimeout: time.Second})
	for range 4 {
		if result, _, err := api.post(context.Background(), "/1/1/reserve/atomic", nil, "", "", time.Second, &attemptInfo{}); result != succeeded {
			t.Fatalf("%v %v", result, err)
		}
	}
	if a.hotels["1/1"] != 2 || b.hotels["1/1"] != 2 {
		t.Errorf("hotel 1/1: %d and %d requests, want 2 and 2", a.hotels["1/1"], b.hotels["1/1"])
	}
}

// A hotel whose server refuses connections is booked through the next
// one, as a balancer's failover would.
func TestRouteByHotelFailsOverWhenTheHotelsServerIsDown(t *testing.T) {
	t.Parallel()
	live, server := newHotelsSeen(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	// Each hotel's server is the dead one in one of the two orders.
	for _, servers := range [][]string{{down.URL, server.URL}, {server.URL, down.URL}} {
		api := NewAPI(Config{Servers: servers, Route: ByHotel, RequestTimeout: time.Second})
		for h := 1; h <= 4; h++ {
			path := fmt.Sprintf("/1/%d/reserve/batched", h)
			result, _, err := api.post(context.Background(), path, nil, "", "", time.Second, &attemptInfo{})
			if result == notSent { // its server was the dead one: now marked down
				result, _, err = api.post(context.Background(), path, nil, "", "", time.Second, &attemptInfo{})
			}
			if result != succeeded {
				t.Fatalf("hotel %d over %v: %v %v", h, servers, result, err)
			}
		}
	}
	if len(live.hotels) != 4 {
		t.Errorf("the live server booked hotels %v, want all 4", live.hotels)
	}
}

func TestParseRoute(t *testing.T) {
	for in, want := range map[string]Route{"": RoundRobin, "round-robin": RoundRobin, "hotel": ByHotel} {
		if got, err := ParseRoute(in); err != nil || got != want {
			t.Errorf("ParseRoute(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseRoute("random"); err == nil {
		t.Error(`ParseRoute("random") took it`)
	}
}

// Every request about one hotel, whatever it does, hashes alike; other
// hotels, even those whose ids share digits, do not.
func TestHotelHashKeysOnTheHotelAlone(t *testing.T) {
	t.Parallel()
	paths := []string{"/1/10/available", "/1/10/reserve/batched", "/1/10/holds", "/1/10/holds/h_x/confirm", "/1/10"}
	for _, p := range paths {
		if hotelHash(p) != hotelHash(paths[0]) {
			t.Errorf("%s hashes apart from %s", p, paths[0])
		}
	}
	for _, other := range []string{"/1/1/available", "/11/0/available", "/10/1/available", "/1/100/available"} {
		if hotelHash(other) == hotelHash(paths[0]) {
			t.Errorf("%s hashes as %s", other, paths[0])
		}
	}
}
