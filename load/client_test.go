package load

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedServer answers the n-th booking request with script[n] (the last
// entry repeats): "slow" never answers in time, otherwise a status and body.
func scriptedServer(t *testing.T, script []func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		script[min(n, len(script)-1)](w)
	}))
	t.Cleanup(server.Close)
	return server, &calls
}

func slow(w http.ResponseWriter) { time.Sleep(300 * time.Millisecond) }

func answer(status int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

func testClient(server string) *client {
	cfg := &Config{Servers: []string{server}, Strategy: "atomic", Clients: 1, Targets: []Target{{EventID: 1, HotelID: 1}},
		Idempotency: true, RequestTimeout: 50 * time.Millisecond, MaxErrors: 5}
	cfg.setDefaults()
	return &client{cfg: cfg, api: newAPI(*cfg), stats: newStats(1), rng: rand.New(rand.NewPCG(1, 1)), runID: "test"}
}

// After an attempt whose outcome was lost, an answer about the resend
// alone (conflict, unavailable) does not end the request: the lost attempt
// may still book under the key, so the client keeps asking with it.
func TestSendKeepsAskingAfterALostAttempt(t *testing.T) {
	conflicted := answer(409, `{"error":{"code":"conflict","message":"m"}}`)
	unavailableAnswer := answer(503, `{"error":{"code":"unavailable","message":"m"}}`)
	booked := answer(201, `{"reservation_id":7,"rooms":2}`)

	server, calls := scriptedServer(t, []func(http.ResponseWriter){slow, conflicted, unavailableAnswer, booked})
	result, r := testClient(server.URL).send(context.Background(), "/1/1/reserve/atomic", map[string]any{"rooms": 2})
	if result != succeeded || r.ReservationID != 7 || calls.Load() != 4 {
		t.Fatalf("got %v %+v after %d calls; want the booking after 4", result, r, calls.Load())
	}

	server, _ = scriptedServer(t, []func(http.ResponseWriter){slow, conflicted})
	if result, _ := testClient(server.URL).send(context.Background(), "/1/1/reserve/atomic", nil); result != unknown {
		t.Fatalf("lost attempt never resolved: got %v, want unknown", result)
	}

	// Without a lost attempt, a conflict is just a conflict.
	server, calls = scriptedServer(t, []func(http.ResponseWriter){conflicted})
	if result, _ := testClient(server.URL).send(context.Background(), "/1/1/reserve/atomic", nil); result != conflict || calls.Load() != 1 {
		t.Fatalf("got %v after %d calls; want one conflict", result, calls.Load())
	}
}
