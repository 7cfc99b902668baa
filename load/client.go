package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// api speaks Evento's HTTP API for every client of a run.
type api struct {
	http    *http.Client
	servers []string
	next    atomic.Uint64 // round-robin position over servers
	timeout time.Duration
	// inFlight admits as many requests as there are connections. The
	// others wait here, parked on a shallow stack, instead of deep inside
	// the transport: with ten thousand clients that is most of the memory.
	inFlight chan struct{}
}

func newAPI(cfg Config) *api {
	transport := &http.Transport{
		MaxIdleConns:        cfg.ConnsPerServer * len(cfg.Servers),
		MaxIdleConnsPerHost: cfg.ConnsPerServer,
		MaxConnsPerHost:     cfg.ConnsPerServer,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
	return &api{
		http:     &http.Client{Transport: transport},
		servers:  cfg.Servers,
		timeout:  cfg.RequestTimeout,
		inFlight: make(chan struct{}, cfg.ConnsPerServer*len(cfg.Servers)),
	}
}

// acquire waits for a free connection slot; the request timeout starts
// only once the request can actually be sent.
func (a *api) acquire(ctx context.Context) (context.Context, func(), error) {
	select {
	case a.inFlight <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	return ctx, func() { cancel(); <-a.inFlight }, nil
}

// server picks the next server in turn, as a round-robin balancer would.
func (a *api) server() string {
	return a.servers[(a.next.Add(1)-1)%uint64(len(a.servers))]
}

type availability struct {
	Assigned  int64 `json:"assigned"`
	Reserved  int64 `json:"reserved"`
	Locked    int64 `json:"locked"`
	Available int64 `json:"available"`
}

type reserveBody struct {
	Name  string `json:"name"`
	Rooms int64  `json:"rooms"`
}

type reservation struct {
	ReservationID int64 `json:"reservation_id"`
	Rooms         int64 `json:"rooms"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// outcome classifies what a reserve request did, from the client's view.
type outcome int

const (
	booked       outcome = iota // 201: the rooms are ours
	soldOut                     // nothing left
	insufficient                // fewer left than asked
	conflict                    // lost a race; retry
	failed                      // certainly not booked: refused before sending, 4xx, or 5xx
	unknown                     // sent, but no answer: it may or may not have booked
)

func (a *api) available(ctx context.Context, t Target) (availability, error) {
	ctx, release, err := a.acquire(ctx)
	if err != nil {
		return availability{}, err
	}
	defer release()
	url := fmt.Sprintf("%s/%d/%d/available", a.server(), t.EventID, t.HotelID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return availability{}, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return availability{}, fmt.Errorf("GET %s: %w", url, err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return availability{}, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	var avail availability
	if err := json.NewDecoder(resp.Body).Decode(&avail); err != nil {
		return availability{}, fmt.Errorf("GET %s: %w", url, err)
	}
	return avail, nil
}

func (a *api) reserve(ctx context.Context, t Target, mode, name string, rooms int64) (outcome, reservation, error) {
	ctx, release, err := a.acquire(ctx)
	if err != nil {
		return failed, reservation{}, err
	}
	defer release()
	url := fmt.Sprintf("%s/%d/%d/reserve/%s", a.server(), t.EventID, t.HotelID, mode)
	body, _ := json.Marshal(reserveBody{Name: name, Rooms: rooms})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return failed, reservation{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		if neverSent(err) {
			return failed, reservation{}, fmt.Errorf("POST %s: %w", url, err)
		}
		return unknown, reservation{}, fmt.Errorf("POST %s: %w", url, err)
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusCreated {
		var r reservation
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			// The server booked and said so, but the answer broke on the way.
			return unknown, reservation{}, fmt.Errorf("POST %s: 201 with unreadable body: %w", url, err)
		}
		return booked, r, nil
	}
	var e apiError
	_ = json.NewDecoder(resp.Body).Decode(&e)
	switch e.Error.Code {
	case "sold_out":
		return soldOut, reservation{}, nil
	case "insufficient_rooms":
		return insufficient, reservation{}, nil
	case "conflict":
		return conflict, reservation{}, nil
	}
	err = fmt.Errorf("POST %s: status %d %s", url, resp.StatusCode, e.Error.Code)
	if resp.StatusCode >= 500 && e.Error.Code != "unavailable" {
		// Only "unavailable" promises that nothing was written; any other
		// server error (outcome_unknown, a proxy's 502) may hide a booking.
		return unknown, reservation{}, err
	}
	return failed, reservation{}, err
}

// neverSent reports whether a request failed before any byte reached a
// server, so that it certainly booked nothing.
func neverSent(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// drain lets the connection be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// client follows the brief's protocol at one target until it sells out.
type client struct {
	id     int
	target int
	cfg    *Config
	api    *api
	stats  *stats
	rng    *rand.Rand
}

func (c *client) run(ctx context.Context) {
	t := c.cfg.Targets[c.target]
	name := fmt.Sprintf("client-%d", c.id)
	errorsInARow := 0
	conflictsInARow := 0
	for ctx.Err() == nil {
		avail, err := c.api.available(ctx, t)
		c.stats.checks.Add(1)
		if err != nil {
			if !c.afterError(ctx, &errorsInARow) {
				return
			}
			continue
		}
		if avail.Available <= 0 {
			c.stats.markSoldOut(c.target)
			return
		}
		rooms := min(1+c.rng.Int64N(int64(c.cfg.MaxRooms)), avail.Available)

		started := time.Now()
		result, r, err := c.api.reserve(ctx, t, c.cfg.Strategy, name, rooms)
		if ctx.Err() != nil && result != booked {
			// The run was cut short; this answer says nothing about the
			// strategy. An unknown outcome still counts: it may have booked.
			if result == unknown {
				c.stats.unknownRequests.Add(1)
				c.stats.targets[c.target].unknown.Add(rooms)
			}
			return
		}
		c.stats.recordLatency(time.Since(started))
		switch result {
		case booked:
			errorsInARow, conflictsInARow = 0, 0
			c.stats.success.Add(1)
			c.stats.acknowledge(c.target, r.ReservationID, r.Rooms)
			c.sleep(ctx, c.think())
		case soldOut:
			c.stats.soldOut.Add(1)
			c.stats.markSoldOut(c.target)
			return
		case insufficient:
			// Someone booked in between; the next check tells how many remain.
			c.stats.insufficient.Add(1)
		case conflict:
			c.stats.conflict.Add(1)
			c.stats.retries.Add(1)
			conflictsInARow++
			c.sleep(ctx, c.backoff(conflictsInARow))
		case unknown:
			// Retrying blindly could book twice; the ledger keeps the rooms
			// as "maybe booked" and the client starts over from a check.
			c.stats.unknownRequests.Add(1)
			c.stats.targets[c.target].unknown.Add(rooms)
			if !c.afterError(ctx, &errorsInARow) {
				return
			}
		case failed:
			if !c.afterError(ctx, &errorsInARow) {
				return
			}
		}
	}
}

// afterError counts an error, backs off, and says whether to go on.
func (c *client) afterError(ctx context.Context, inARow *int) bool {
	c.stats.errors.Add(1)
	*inARow++
	if *inARow >= c.cfg.MaxErrors {
		c.stats.gaveUp.Add(1)
		return false
	}
	c.stats.retries.Add(1)
	c.sleep(ctx, c.backoff(*inARow))
	return true
}

// backoff grows with each attempt and is jittered, so clients that lost
// the same race do not collide again in lockstep.
func (c *client) backoff(attempt int) time.Duration {
	ceiling := min(time.Millisecond<<min(attempt, 7), 100*time.Millisecond)
	return time.Duration(c.rng.Int64N(int64(ceiling)) + 1)
}

func (c *client) think() time.Duration {
	r := c.cfg.Think
	if r.Max <= r.Min {
		return r.Min
	}
	return r.Min + time.Duration(c.rng.Int64N(int64(r.Max-r.Min)+1))
}

func (c *client) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}
