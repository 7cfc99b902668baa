package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/evento-lab/evento"
)

// API is the one HTTP client for Evento's API: every client of a run
// shares one, and `evento load` reads an event's hotels through one.
type API struct {
	// http sends each request once, as it is, and follows no redirect:
	// a 307 is an answer, and following it would send a booking twice.
	http    *transport
	servers []string
	route   Route
	next    atomic.Uint64 // round-robin position over servers
	// downUntil[i] is when servers[i], which refused a connection, is
	// tried again (unix nanoseconds): a balancer's failover.
	downUntil []atomic.Int64
	// timeout is --client-timeout, which may be tiny on purpose: bookings
	// start with it (client.send grows it on resends); reads get at least
	// readTimeout, so a provoked timeout is always a booking's.
	timeout time.Duration
	// inFlight admits as many requests as there are connections. The
	// others wait here, parked on a shallow stack, instead of deep inside
	// the transport: with ten thousand clients that is most of the memory.
	inFlight chan struct{}
	// internal counts the answers with status 500, to bookings and reads
	// alike (RequestCounts.Internal).
	internal atomic.Int64
	// readKey is the API key Event reads with (UseKey); "" sends none.
	readKey string
}

// UseKey makes Event read with apiKey, for servers that require one.
func (a *API) UseKey(apiKey string) { a.readKey = apiKey }

// NewAPI returns a client of cfg.Servers (base URLs, chosen by cfg.Route)
// that opens at most cfg.ConnsPerServer connections to each;
// cfg.RequestTimeout bounds a booking attempt. Zero values take Config's
// defaults.
func NewAPI(cfg Config) *API {
	cfg.setDefaults()
	return &API{
		http:      newTransport(cfg.ConnsPerServer),
		servers:   cfg.Servers,
		route:     cfg.Route,
		downUntil: make([]atomic.Int64, len(cfg.Servers)),
		timeout:   cfg.RequestTimeout,
		inFlight:  make(chan struct{}, cfg.ConnsPerServer*len(cfg.Servers)),
	}
}

// acquire waits for a free connection slot; the request timeout starts
// only once the request can actually be sent.
func (a *API) acquire(ctx context.Context, timeout time.Duration) (context.Context, func(), error) {
	select {
	case a.inFlight <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); <-a.inFlight }, nil
}

// server picks the server for a request to path, as the balancer of
// a.route would (the next in turn, or the hotel's), skipping those that
// refused a connection lately unless all did.
func (a *API) server(path string) (int, string) {
	now := time.Now().UnixNano()
	var first int
	if a.route == ByHotel {
		first = int(hotelHash(path) % uint64(len(a.servers)))
	} else {
		first = int((a.next.Add(1) - 1) % uint64(len(a.servers)))
	}
	for k := range len(a.servers) {
		i := (first + k) % len(a.servers)
		if a.downUntil[i].Load() <= now {
			return i, a.servers[i]
		}
	}
	return first, a.servers[first]
}

// serverDownFor is how long a server that refused a connection is skipped.
const serverDownFor = time.Second

// markDown skips servers[i] for a while when err says it refused the
// connection.
func (a *API) markDown(i int, err error) {
	if neverSent(err) {
		a.downUntil[i].Store(time.Now().Add(serverDownFor).UnixNano())
	}
}

type availability struct {
	Available int64 `json:"available"`
	Locked    int64 `json:"locked"` // in live holds: they may come back
}

// reply is what a booking-like request answered.
type reply struct {
	ReservationID int64  `json:"reservation_id"`
	HoldID        string `json:"hold_id"`
	Rooms         int64  `json:"rooms"`
	Replayed      bool   `json:"-"` // answered from an idempotency key's stored outcome
	// RetryAfter is the server's Retry-After on a 503 (the least pause
	// before the next attempt) or on rooms_held (when held rooms may be
	// back at the latest) or hold_cooldown (when this client may hold at
	// the hotel again).
	RetryAfter time.Duration `json:"-"`
}

// outcome classifies what a request did, from the client's view.
type outcome int

const (
	succeeded    outcome = iota // 2xx: booked, held or confirmed
	soldOut                     // nothing left
	roomsHeld                   // not enough free, but held rooms may come back: wait
	insufficient                // fewer left than asked
	conflict                    // lost a race; retry
	inProgress                  // the same idempotency key is still running; retry it
	expired                     // the hold expired before the confirm
	cooling                     // no hold: this client's last one at the hotel ended too recently
	failed                      // certainly did nothing: the server refused the request (4xx)
	notSent                     // this attempt never reached a server; an earlier one may have booked
	unavailable                 // this attempt did nothing ("unavailable"); an earlier one may have
	unknown                     // sent, but no answer: it may or may not have happened
	modeRefused                 // the server does not serve the run's mode: no request of the run can succeed
	atLimit                     // the client has as many rooms at the event as its key may: it is done
)

// ModeRefusedError is a server's refusal of the run's mode itself
// (mode_disabled, unknown_mode): every reserve of the run would get the
// same answer, so the run stops at the first instead of counting them.
type ModeRefusedError struct {
	Server, Mode string
	Code         string // mode_disabled or unknown_mode
	Message      string // the server's own words, which list its modes
}

func (e *ModeRefusedError) Error() string {
	verb := "serve"
	if e.Code == evento.ErrUnknownMode.Code {
		verb = "know"
	}
	return fmt.Sprintf("server %s does not %s mode %s (%s)", e.Server, verb, e.Mode, e.Message)
}

// final reports whether an answer is one the server stores under an
// idempotency key, or (a 4xx refusal that touched no rooms, which is not
// stored) gives again to every resend: once an attempt's outcome was
// unknown, only such an answer tells what became of it. A conflict, an
// unavailable or an in progress speaks of this attempt alone, while the
// lost one may still book.
func (o outcome) final() bool {
	switch o {
	case succeeded, soldOut, insufficient, roomsHeld, expired, cooling, failed:
		return true
	}
	return false
}

// readTimeout is the least time an availability check is given.
const readTimeout = 10 * time.Second

func (a *API) available(ctx context.Context, t Target, apiKey string) (availability, error) {
	path := fmt.Sprintf("/%d/%d/available", t.EventID, t.HotelID)
	i, server := a.server(path)
	var avail availability
	err := a.get(ctx, server+path, apiKey, &avail)
	a.markDown(i, err)
	if status := (*StatusError)(nil); errors.As(err, &status) {
		return availability{}, fmt.Errorf("GET %s: status %d", status.URL, status.Status)
	}
	return avail, err
}

// get reads url's JSON answer into v; an answer other than 200 is a
// *StatusError.
func (a *API) get(ctx context.Context, url, apiKey string, v any) error {
	ctx, release, err := a.acquire(ctx, max(a.timeout, readTimeout))
	if err != nil {
		return err
	}
	defer release()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	authorize(req, apiKey)
	resp, err := a.http.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer drain(resp)
	a.countInternal(resp)
	answer := readAnswer(resp)
	defer answer.release()
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		_ = answer.decode(&e)
		return &StatusError{URL: url, Status: resp.StatusCode, Code: e.Error.Code}
	}
	if err := answer.decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// errorBody is an error answer of the API.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// authorize sends apiKey, when there is one, as a bearer token.
func authorize(req *http.Request, apiKey string) {
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
}

// attemptInfo is what post learned of an attempt for the history.
type attemptInfo struct {
	server string
	status int    // 0 when no answer came
	code   string // the API's error code, when the answer carried one
}

// post sends a booking-like request and classifies its answer. key, when
// not empty, is sent as the Idempotency-Key; timeout bounds this attempt;
// info learns which server it asked and what status came back.
func (a *API) post(ctx context.Context, path string, body any, key, apiKey string, timeout time.Duration, info *attemptInfo) (outcome, reply, error) {
	ctx, release, err := a.acquire(ctx, timeout)
	if err != nil {
		return notSent, reply{}, err
	}
	defer release()
	i, server := a.server(path)
	info.server = server
	url := server + path
	// A request without fields (a confirm) sends an empty object, with
	// its length: servers refuse a body of unknown length (chunked).
	encoded := []byte("{}")
	switch b := body.(type) {
	case bookingBody:
		encoded = b.encode()
	case nil:
	default:
		encoded, _ = json.Marshal(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(encoded))
	if err != nil {
		return notSent, reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	authorize(req, apiKey)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := a.http.RoundTrip(req)
	if err != nil {
		a.markDown(i, err)
		if neverSent(err) {
			return notSent, reply{}, fmt.Errorf("POST %s: %w", url, err)
		}
		return unknown, reply{}, fmt.Errorf("POST %s: %w", url, err)
	}
	defer drain(resp)
	a.countInternal(resp)
	info.status = resp.StatusCode
	answer := readAnswer(resp)
	defer answer.release()
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
		var r reply
		if err := answer.decode(&r); err != nil {
			// The server did it and said so, but the answer broke on the way.
			return unknown, reply{}, fmt.Errorf("POST %s: %d with unreadable body: %w", url, resp.StatusCode, err)
		}
		r.Replayed = resp.Header.Get("Idempotent-Replayed") == "true"
		return succeeded, r, nil
	}
	var e errorBody
	_ = answer.decode(&e)
	info.code = e.Error.Code
	// The code's domain error; nil for an answer that is not Evento's.
	known := evento.ErrorWithCode(e.Error.Code)
	switch known {
	case evento.ErrModeDisabled, evento.ErrUnknownMode:
		return modeRefused, reply{}, &ModeRefusedError{Server: server, Mode: path[strings.LastIndex(path, "/")+1:], Code: e.Error.Code, Message: e.Error.Message}
	case evento.ErrSoldOut:
		return soldOut, reply{}, nil
	case evento.ErrRoomsHeld:
		return roomsHeld, reply{RetryAfter: retryAfter(resp)}, nil
	case evento.ErrInsufficientRooms:
		return insufficient, reply{}, nil
	case evento.ErrConflict:
		return conflict, reply{}, nil
	case evento.ErrRequestInProgress:
		return inProgress, reply{}, nil
	case evento.ErrHoldExpired:
		return expired, reply{}, nil
	case evento.ErrClientLimit:
		return atLimit, reply{}, nil
	case evento.ErrHoldCooldown:
		return cooling, reply{RetryAfter: retryAfter(resp)}, nil
	}
	err = fmt.Errorf("POST %s: status %d %s", url, resp.StatusCode, e.Error.Code)
	switch {
	case known == evento.ErrUnavailable:
		return unavailable, reply{RetryAfter: retryAfter(resp)}, err
	case resp.StatusCode >= 500:
		// Only "unavailable" promises that nothing was written; any other
		// server error (outcome_unknown, a proxy's 502) may hide a booking.
		return unknown, reply{}, err
	}
	return failed, reply{}, err
}

// neverSent reports whether a request failed before any byte reached a
// server, so that it certainly did nothing.
func neverSent(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// StatusError is a read the server answered with something other than
// 200: Code is the API's error code, when the answer was Evento's.
type StatusError struct {
	URL    string
	Status int
	Code   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: status %d %s", e.URL, e.Status, e.Code)
}

// Hotel is one hotel of an event as the API shows it: the counters, not
// the reservation rows.
type Hotel struct {
	HotelID  int64  `json:"hotel_id"`
	Name     string `json:"name"`
	Assigned int64  `json:"assigned"`
	Reserved int64  `json:"reserved"`
	Locked   int64  `json:"locked"`
}

// Event reads every hotel of an event (GET /{event_id}/available) from the
// first server, so that repeated reads see the same one.
func (a *API) Event(ctx context.Context, eventID int64) ([]Hotel, error) {
	var e struct {
		Hotels []Hotel `json:"hotels"`
	}
	if err := a.get(ctx, fmt.Sprintf("%s/%d/available", a.servers[0], eventID), a.readKey, &e); err != nil {
		return nil, err
	}
	if len(e.Hotels) == 0 {
		return nil, fmt.Errorf("event %d has no hotels", eventID)
	}
	return e.Hotels, nil
}

// CloseIdleConnections closes the connections no request is using.
func (a *API) CloseIdleConnections() { a.http.CloseIdleConnections() }

// countInternal counts resp if it is a 500.
func (a *API) countInternal(resp *http.Response) {
	if resp.StatusCode == http.StatusInternalServerError {
		a.internal.Add(1)
	}
}

// drain lets the connection be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// retryAfter is the answer's Retry-After in seconds; 0 without one.
func retryAfter(resp *http.Response) time.Duration {
	seconds, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return time.Duration(max(seconds, 0)) * time.Second
}
