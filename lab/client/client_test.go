package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testBundle is what a test of one client can inspect besides the client.
type testBundle struct {
	calls *atomic.Int32 // booking requests the scripted server received
}

// setup returns a client of a scripted server that answers the n-th
// request with script[n] (the last entry repeats): slow never answers in
// time, answer gives a status and body.
func setup(t *testing.T, script ...func(w http.ResponseWriter)) (*client, *testBundle) {
	t.Helper()
	var calls atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		script[min(n, len(script)-1)](w)
	}))
	t.Cleanup(server.Close)
	cfg := &Config{Servers: []string{server.URL}, Strategy: "atomic", Clients: 1, Targets: []Target{{EventID: 1, HotelID: 1}},
		Idempotency: true, RequestTimeout: 50 * time.Millisecond, RetryBudget: 500 * time.Millisecond}
	cfg.setDefaults()
	c := &client{cfg: cfg, api: NewAPI(*cfg), stats: newStats(1, true), rng: rand.New(rand.NewPCG(1, 1)), runID: "test"}
	return c, &testBundle{calls: &calls}
}

func slow(w http.ResponseWriter) { time.Sleep(300 * time.Millisecond) }

func answer(status int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// bookingServer answers every availability check with available rooms
// and every booking with book.
func bookingServer(t *testing.T, available int, book func(w http.ResponseWriter)) *httptest.Server {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			answer(http.StatusOK, fmt.Sprintf(`{"available":%d}`, available))(w)
			return
		}
		book(w)
	}))
	t.Cleanup(server.Close)
	return server
}

// After an attempt whose outcome was lost, an answer about the resend
// alone (conflict, unavailable) does not end the request: the lost attempt
// may still book under the key, so the client keeps asking with it.
func TestSendKeepsAskingAfterALostAttempt(t *testing.T) {
	t.Parallel()
	conflicted := answer(409, `{"error":{"code":"conflict","message":"m"}}`)
	unavailableAnswer := answer(503, `{"error":{"code":"unavailable","message":"m"}}`)
	booked := answer(201, `{"reservation_id":7,"rooms":2}`)

	c, bundle := setup(t, slow, conflicted, unavailableAnswer, booked)
	result, r, _ := c.send(context.Background(), "/1/1/reserve/atomic", map[string]any{"rooms": 2}, 2)
	if result != succeeded || r.ReservationID != 7 || bundle.calls.Load() != 4 {
		t.Fatalf("got %v %+v after %d calls; want the booking after 4", result, r, bundle.calls.Load())
	}

	c, _ = setup(t, slow, conflicted)
	if result, _, _ := c.send(context.Background(), "/1/1/reserve/atomic", nil, 0); result != unknown {
		t.Fatalf("lost attempt never resolved: got %v, want unknown", result)
	}

	// Without a lost attempt, a conflict is just a conflict.
	c, bundle = setup(t, conflicted)
	if result, _, _ := c.send(context.Background(), "/1/1/reserve/atomic", nil, 0); result != conflict || bundle.calls.Load() != 1 {
		t.Fatalf("got %v after %d calls; want one conflict", result, bundle.calls.Load())
	}
}

// A resend that cannot even reach a server (connection refused: that
// server is down) says nothing of the lost attempt before it. It used to
// be taken as the final "failed", and a booking that had committed left
// the ledger as a phantom; now the client keeps asking, and the next live
// server replays the booking.
func TestSendKeepsAskingWhenAResendIsRefusedAtConnect(t *testing.T) {
	t.Parallel()
	c, bundle := setup(t, slow, answer(201, `{"reservation_id":7,"rooms":2}`))
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // its address now refuses connections
	c.api = NewAPI(Config{Servers: []string{c.cfg.Servers[0], down.URL}, ConnsPerServer: c.cfg.ConnsPerServer, RequestTimeout: c.cfg.RequestTimeout})
	result, r, _ := c.send(context.Background(), "/1/1/reserve/atomic", map[string]any{"rooms": 2}, 2)
	if result != succeeded || r.ReservationID != 7 || bundle.calls.Load() != 2 {
		t.Fatalf("got %v %+v after %d calls to the live server; want the booking", result, r, bundle.calls.Load())
	}
}

// A server that refused a connection is skipped for a while, as a load
// balancer's failover would: the requests after it go to the live one.
func TestAPIFailsOverFromAServerThatRefusesConnections(t *testing.T) {
	t.Parallel()
	c, bundle := setup(t, answer(201, `{"reservation_id":7,"rooms":1}`))
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	api := NewAPI(Config{Servers: []string{down.URL, c.cfg.Servers[0]}, ConnsPerServer: 4, RequestTimeout: time.Second})
	if result, _, _ := api.post(context.Background(), "/1/1/reserve/atomic", nil, "", "", time.Second, &attemptInfo{}); result != notSent {
		t.Fatalf("first request, to the dead server: %v, want notSent", result)
	}
	for range 5 {
		if result, _, err := api.post(context.Background(), "/1/1/reserve/atomic", nil, "", "", time.Second, &attemptInfo{}); result != succeeded {
			t.Fatalf("after failover: %v %v", result, err)
		}
	}
	if bundle.calls.Load() != 5 {
		t.Fatalf("the live server got %d of 5 requests", bundle.calls.Load())
	}
}

// A 503 carries the server's Retry-After, and the client's next attempt
// waits at least that long.
func TestUnavailableHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "1")
		answer(503, `{"error":{"code":"unavailable","message":"m"}}`)(w)
	})
	result, r, _ := c.api.post(context.Background(), "/1/1/reserve/atomic", nil, "", "", time.Second, &attemptInfo{})
	if result != unavailable || r.RetryAfter != time.Second {
		t.Fatalf("503: %v, Retry-After %v; want unavailable and 1s", result, r.RetryAfter)
	}
	var errs errorRun
	started := time.Now()
	if !c.afterError(context.Background(), &errs, r.RetryAfter) {
		t.Fatal("gave up on the first error")
	}
	if waited := time.Since(started); waited < time.Second {
		t.Fatalf("waited %v before the next attempt; the server asked for 1s", waited)
	}
}

// A client gives up only when errors have lasted longer than its budget,
// not after a count of them.
func TestClientGivesUpOnlyAfterItsRetryBudget(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, slow)
	c.cfg.RetryBudget = 300 * time.Millisecond
	var errs errorRun
	started := time.Now()
	attempts := 0
	for c.afterError(context.Background(), &errs, 0) {
		attempts++
	}
	if waited := time.Since(started); waited < c.cfg.RetryBudget {
		t.Fatalf("gave up after %v and %d retries; the budget is %v", waited, attempts, c.cfg.RetryBudget)
	}
	if c.stats.gaveUp.Load() != 1 {
		t.Fatalf("gave up %d times", c.stats.gaveUp.Load())
	}
}

// A server that dies after reading a request on a kept-alive connection:
// Go's transport would silently resend the request (it carries an
// Idempotency-Key, which net/http takes as leave to retry) to the same,
// now refusing, address, and report only the refused dial. That request
// was sent and may have booked: it must come back unknown, never as
// "not sent".
func TestRequestSentBeforeTheServerDiedIsUnknown(t *testing.T) {
	t.Parallel()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		reader := bufio.NewReader(conn)
		if req, err := http.ReadRequest(reader); err == nil {
			_, _ = io.Copy(io.Discard, req.Body)
			body := `{"reservation_id":1,"rooms":1}`
			fmt.Fprintf(conn, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
		if req, err := http.ReadRequest(reader); err == nil {
			_, _ = io.Copy(io.Discard, req.Body)
		}
		_ = listener.Close() // the server is gone: its address refuses connections
		_ = conn.Close()
	}()
	api := NewAPI(Config{Servers: []string{"http://" + listener.Addr().String()}, ConnsPerServer: 1, RequestTimeout: 2 * time.Second})
	if result, _, err := api.post(context.Background(), "/1/1/reserve/atomic", map[string]any{"rooms": 1}, "k-1", "", 2*time.Second, &attemptInfo{}); result != succeeded {
		t.Fatalf("first request: %v %v", result, err)
	}
	// A confirm has no body: a transport that resends such requests by
	// itself (net/http's does, on a dead kept-alive connection) would
	// report only how the resend failed.
	result, _, err := api.post(context.Background(), "/1/1/holds/1/confirm", nil, "k-2", "", 2*time.Second, &attemptInfo{})
	if result != unknown {
		t.Fatalf("a request the server read before it died: %v (%v), want unknown", result, err)
	}
}

// A server that does not serve the run's mode stops the whole run at its
// first refusal: the clients do not retry for their budget, nor count the
// refusals as errors, and the run says why it stopped.
func TestRunStopsWhenTheServerRefusesTheMode(t *testing.T) {
	t.Parallel()
	var reserves atomic.Int32
	server := bookingServer(t, 100, func(w http.ResponseWriter) {
		reserves.Add(1)
		answer(http.StatusForbidden, `{"error":{"code":"mode_disabled","message":"mode \"naive\" is disabled on this server; enabled modes: atomic"}}`)(w)
	})
	const clients = 50
	runner, err := NewRunner(Config{Servers: []string{server.URL}, Strategy: "naive", Clients: clients,
		Targets: []Target{{EventID: 1, HotelID: 1, Assigned: 100}}, Idempotency: true, RetryBudget: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	result := runner.Run(context.Background())
	var refused *ModeRefusedError
	if !errors.As(result.Stopped, &refused) || refused.Mode != "naive" || refused.Code != "mode_disabled" || refused.Server != server.URL {
		t.Fatalf("Stopped = %v; want the server's refusal of naive", result.Stopped)
	}
	if !strings.Contains(result.Stopped.Error(), "does not serve mode naive") || !strings.Contains(result.Stopped.Error(), "enabled modes: atomic") {
		t.Fatalf("the reason does not say which mode and what the server serves: %v", result.Stopped)
	}
	if elapsed := time.Since(started); elapsed > 5*time.Second {
		t.Fatalf("the run took %s: the clients kept retrying a mode the server refuses", elapsed)
	}
	if result.Requests.Error != 0 || result.GaveUp != 0 || result.Completed || reserves.Load() > clients {
		t.Fatalf("%d errors, %d gave up, completed %v, %d reserves sent by %d clients; want a stop at the first refusals",
			result.Requests.Error, result.GaveUp, result.Completed, reserves.Load(), clients)
	}
}

// A request the run's own end cuts off (the run's context ends while it
// is in flight) is neither an error nor, with a key, an unknown: it is
// counted as cancelled and resent with its key, outside the ended run,
// until the stored outcome is known.
func TestRequestCutByTheRunsEndIsResolvedWithItsKey(t *testing.T) {
	t.Parallel()
	c, bundle := setup(t,
		func(w http.ResponseWriter) {
			time.Sleep(200 * time.Millisecond)
			answer(201, `{"reservation_id":7,"rooms":2}`)(w)
		},
		answer(201, `{"reservation_id":7,"rooms":2}`))
	c.cfg.RequestTimeout = 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	result, r, _ := c.send(ctx, "/1/1/reserve/atomic", map[string]any{"rooms": 2}, 2)
	if result != succeeded || r.ReservationID != 7 {
		t.Fatalf("cut request: %v %+v; want it resolved to the booking", result, r)
	}
	if n := bundle.calls.Load(); n != 2 {
		t.Fatalf("%d requests reached the server, want the cut one and one resend", n)
	}
	if c.stats.cancelled.Load() != 1 || c.stats.errors.Load() != 0 {
		t.Fatalf("cancelled %d, errors %d; want 1 and 0", c.stats.cancelled.Load(), c.stats.errors.Load())
	}
}

// The open model measures what the closed one hides. A server that takes
// 50 ms a booking, two clients: closed-loop, every booking waits for the
// last and reports about 50 ms. Open, with 100 bookings a second arriving
// whatever happened before, they queue behind the two clients: latency
// counted from the intended start grows far past 50 ms, and arrivals are
// counted late, as pgbench -R reports them.
func TestOpenModelCountsLatencyFromTheIntendedStart(t *testing.T) {
	t.Parallel()
	server := bookingServer(t, 1000000, func(w http.ResponseWriter) {
		time.Sleep(50 * time.Millisecond)
		answer(http.StatusCreated, `{"reservation_id":1,"rooms":1}`)(w)
	})
	run := func(rate float64) Result {
		runner, err := NewRunner(Config{Servers: []string{server.URL}, Strategy: "atomic", Clients: 2, MaxRooms: 1,
			Targets: []Target{{EventID: 1, HotelID: 1, Assigned: 1000000}}, Rate: rate, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		return runner.Run(ctx)
	}
	closed, open := run(0), run(100)
	if closed.Requests.Late != 0 || closed.Requests.Skipped != 0 {
		t.Fatalf("closed model: %d late, %d skipped; want none", closed.Requests.Late, closed.Requests.Skipped)
	}
	if open.Requests.Late == 0 {
		t.Fatalf("open model at 100/s against 40/s of capacity: no arrival late (%+v)", open.Requests)
	}
	if open.Latency.P99 < 4*closed.Latency.P50 {
		t.Fatalf("open p99 %.1f ms, closed p50 %.1f ms: queueing behind busy clients does not show", open.Latency.P99, closed.Latency.P50)
	}
	t.Logf("closed p50 %.1f p99 %.1f; open p50 %.1f p99 %.1f, %d late, %d skipped",
		closed.Latency.P50, closed.Latency.P99, open.Latency.P50, open.Latency.P99, open.Requests.Late, open.Requests.Skipped)
}

// The run's seconds add up to its counts: every booking, conflict and
// error is in the second it happened, once.
func TestSecondsAddUpToTheCounts(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	server := bookingServer(t, 1000, func(w http.ResponseWriter) {
		switch n.Add(1) % 3 {
		case 0:
			answer(http.StatusCreated, `{"reservation_id":1,"rooms":1}`)(w)
		case 1:
			answer(http.StatusConflict, `{"error":{"code":"conflict","message":"m"}}`)(w)
		default:
			answer(http.StatusBadRequest, `{"error":{"code":"invalid_request","message":"m"}}`)(w)
		}
	})
	runner, err := NewRunner(Config{Servers: []string{server.URL}, Strategy: "atomic", Clients: 3, MaxRooms: 1,
		Targets: []Target{{EventID: 1, HotelID: 1, Assigned: 1000}}, Seed: 1, RetryBudget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res := runner.Run(ctx)
	var sum Second
	for _, s := range res.Seconds {
		sum.Bookings += s.Bookings
		sum.Conflicts += s.Conflicts
		sum.Errors += s.Errors
	}
	q := res.Requests
	if sum.Bookings != q.Success || sum.Conflicts != q.Conflict || sum.Errors != q.Error || q.Success == 0 || q.Error == 0 {
		t.Fatalf("seconds add up to %+v; counts: %d bookings, %d conflicts, %d errors", sum, q.Success, q.Conflict, q.Error)
	}
}

// A request's id, and with keys its idempotency key, is the run's id, the
// client's and the request's number: what the history and the checker
// match attempts by.
func TestRequestIDsNumberEachClientsRequests(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, answer(201, `{"reservation_id":7,"rooms":1}`))
	c.id = 4
	for range 2 {
		if result, _, _ := c.send(context.Background(), "/1/1/reserve/atomic", bookingBody{Name: "n", Rooms: 1}, 1); result != succeeded {
			t.Fatalf("booking: %v", result)
		}
	}
	var got []string
	for _, a := range c.stats.history {
		got = append(got, a.Request+" "+a.Key)
	}
	if want := []string{"test-4-1 test-4-1", "test-4-2 test-4-2"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("requests %q, want %q", got, want)
	}
}

// With no think time a client books again at once: no timer is started
// and stopped between two bookings.
func TestNoThinkTimeStartsNoTimer(t *testing.T) {
	c := &client{}
	ctx := context.Background()
	if allocs := testing.AllocsPerRun(100, func() { c.sleep(ctx, 0) }); allocs != 0 {
		t.Fatalf("sleeping 0: %.0f allocations, want none", allocs)
	}
}

// Bookings ask for no compression: their answers are too small for it,
// and the header would be one more for every server to parse.
func TestBookingsAskForNoCompression(t *testing.T) {
	t.Parallel()
	var encodings atomic.Value
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encodings.Store(r.Header.Values("Accept-Encoding"))
		answer(201, `{"reservation_id":7,"rooms":1}`)(w)
	}))
	t.Cleanup(server.Close)
	api := NewAPI(Config{Servers: []string{server.URL}, ConnsPerServer: 1, RequestTimeout: time.Second})
	result, _, err := api.post(context.Background(), "/1/1/reserve/atomic", bookingBody{Name: "n", Rooms: 1}, "", "", time.Second, &attemptInfo{})
	if result != succeeded {
		t.Fatalf("booking: %v %v", result, err)
	}
	if got := encodings.Load().([]string); len(got) != 0 {
		t.Fatalf("Accept-Encoding %q, want none", got)
	}
}

// A redirect is an answer, not an instruction: following a 307 would send
// the booking again, to wherever it points, without the client's say.
func TestBookingsDoNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(server.Close)
	api := NewAPI(Config{Servers: []string{server.URL}, ConnsPerServer: 1, RequestTimeout: time.Second})
	result, _, _ := api.post(context.Background(), "/1/1/reserve/atomic", bookingBody{Name: "n", Rooms: 1}, "k-1", "", time.Second, &attemptInfo{})
	if result != failed || calls.Load() != 1 {
		t.Fatalf("a 307: %v after %d requests, want failed after 1", result, calls.Load())
	}
}
