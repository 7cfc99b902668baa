package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/evento-lab/evento"
)

// client follows the brief's protocol at one target until it sells out.
type client struct {
	id     int
	target int
	cfg    *Config
	api    *API
	stats  *stats
	rng    *rand.Rand
	runID  string
	seq    int        // numbers this client's idempotency keys
	cred   Credential // its API key, if the servers ask for one
	// heldSince is when the client first found the rooms it wants held
	// rather than free; zero after a booking.
	heldSince time.Time
	// holdAgainAt is when the servers let this client hold at its hotel
	// again (a hold refused with hold_cooldown); until then it books
	// without a hold, as a buyer whose cart timed out would.
	holdAgainAt time.Time
	// arrivals, in the open model, deliver the intended start of each
	// booking; nil in the closed model.
	arrivals <-chan time.Time
	// stop ends the whole run, every client, for a cause none can get
	// past (a server refusing the run's mode); nil in tests of one client.
	stop func(cause error)
}

// heldRecheck is how long a client waits before asking again about a
// hotel whose free rooms are gone but some are held.
const heldRecheck = 500 * time.Millisecond

// heldPatience is how long a client waits for held rooms to come back
// before it leaves as a buyer would: someone may hold them for the full
// --max-hold-ttl (15 minutes), and the rooms are not for sale meanwhile.
const heldPatience = 10 * time.Second

// waitForHeldRooms pauses for d and reports true while the client's
// patience with held rooms lasts; false once it has run out.
func (c *client) waitForHeldRooms(ctx context.Context, d time.Duration) bool {
	if c.heldSince.IsZero() {
		c.heldSince = time.Now()
	}
	if time.Since(c.heldSince) > heldPatience {
		return false
	}
	c.sleep(ctx, d)
	return true
}

func (c *client) run(ctx context.Context) {
	t := c.cfg.Targets[c.target]
	var errs errorRun
	conflictsInARow := 0
	// mustCheck: ask for availability before the next booking. Always, in
	// the brief's protocol; after a refusal only, with SkipChecks.
	mustCheck := true
	// In the open model (Config.Rate) each booking waits for its arrival,
	// and its latency counts from when it was meant to start.
	var intended time.Time
	needArrival := c.arrivals != nil
	reservePath := fmt.Sprintf("/%d/%d/reserve/%s", t.EventID, t.HotelID, c.cfg.Strategy)
	for ctx.Err() == nil {
		if needArrival {
			select {
			case intended = <-c.arrivals:
			case <-ctx.Done():
				return
			}
			needArrival = false
		}
		avail := int64(c.cfg.MaxRooms)
		if mustCheck || !c.cfg.SkipChecks {
			seen, err := c.api.available(ctx, t, c.cred.Key)
			c.stats.checks.Add(1)
			if err != nil {
				if ctx.Err() != nil {
					return // the run ended under the check: not the server's error
				}
				c.stats.noteError(err.Error())
				if !c.afterError(ctx, &errs, 0) {
					return
				}
				continue
			}
			avail = seen.Available
			if avail <= 0 && seen.Locked > 0 && c.waitForHeldRooms(ctx, heldRecheck) {
				// Held, not sold: holds are confirmed, released or
				// expire; ask again shortly.
				continue
			}
			if avail <= 0 {
				c.stats.markSoldOut(c.target, time.Now())
				return
			}
			mustCheck = false
		}
		rooms := min(1+c.rng.Int64N(int64(c.cfg.MaxRooms)), avail)

		started := time.Now()
		if c.arrivals != nil {
			started = intended
		}
		var result outcome
		var r reply
		var key string // the booking's idempotency key, "" without one
		if c.cfg.HoldShare > 0 && c.rng.Float64() < c.cfg.HoldShare && time.Now().After(c.holdAgainAt) {
			result, r, key = c.bookThroughHold(ctx, t, rooms)
		} else {
			result, r, key = c.send(ctx, reservePath, bookingBody{Name: c.name(), Rooms: rooms}, rooms)
			switch result {
			case succeeded:
				c.stats.recordKeyed(c.target, c.storedKey(key), r.ReservationID)
			case soldOut, insufficient, roomsHeld, failed, notSent, unavailable, atLimit:
				c.stats.recordKeyed(c.target, c.storedKey(key), 0)
			}
		}
		if ctx.Err() != nil && result != succeeded {
			// The run was cut short; this answer says nothing about the
			// strategy. An unknown outcome still counts: it may have booked.
			if result == unknown {
				c.stats.recordUnknown(c.target, c.storedKey(key), rooms)
			}
			return
		}
		// One sample a booking: in the open model a conflict's retry is the
		// same booking, timed from the same intended start, and a booking
		// the run's end cut off was timed by its resolution, not by the
		// system under load.
		if ctx.Err() == nil && (c.arrivals == nil || (result != conflict && result != inProgress)) {
			c.stats.recordLatency(time.Since(started))
		}
		switch result {
		case succeeded:
			errs, conflictsInARow = errorRun{}, 0
			c.heldSince = time.Time{}
			if r.ReservationID != 0 {
				c.stats.success.Add(1)
				c.stats.tick(tickBooking, time.Now())
				c.stats.acknowledge(c.target, r.ReservationID, r.Rooms)
			}
			c.pause(ctx)
		case soldOut:
			c.stats.soldOut.Add(1)
			c.stats.markSoldOut(c.target, time.Now())
			return
		case insufficient:
			// Someone booked in between; the next check tells how many remain.
			c.stats.insufficient.Add(1)
			mustCheck = true
		case roomsHeld:
			// Wait for held rooms to come back: until the ones lacked are
			// out of their holds (Retry-After), or a release or confirm
			// comes first.
			c.stats.roomsHeld.Add(1)
			if !c.waitForHeldRooms(ctx, min(r.RetryAfter, heldRecheck)) {
				c.stats.markSoldOut(c.target, time.Now())
				return
			}
			mustCheck = true
		case conflict, inProgress:
			c.stats.conflict.Add(1)
			c.stats.tick(tickConflict, time.Now())
			c.stats.retries.Add(1)
			conflictsInARow++
			c.sleep(ctx, c.backoff(conflictsInARow, time.Millisecond, 100*time.Millisecond))
		case expired:
			c.stats.holdsExpired.Add(1)
			c.pause(ctx)
		case cooling:
			// Nothing was held: book without a hold until it may again.
			c.holdAgainAt = time.Now().Add(r.RetryAfter)
		case modeRefused:
			return // send stopped the run
		case atLimit:
			// The key's allowance at the event is used up (evento load
			// with a key of the default limit): no later booking of this
			// client can succeed; nothing was booked.
			return
		case unknown:
			// Without an idempotency key a blind retry could book twice:
			// the ledger keeps the rooms as "maybe booked" and the client
			// starts over from a check.
			c.stats.recordUnknown(c.target, c.storedKey(key), rooms)
			if !c.afterError(ctx, &errs, 0) {
				return
			}
		case failed, notSent, unavailable:
			if !c.afterError(ctx, &errs, r.RetryAfter) {
				return
			}
		}
		// A conflict's retry is the same booking; anything else ends it,
		// and the next one waits for its own arrival.
		needArrival = c.arrivals != nil && result != conflict && result != inProgress
	}
}

// pause is the think time after a booking in the closed model; in the open
// model the schedule of arrivals decides when the next one starts.
func (c *client) pause(ctx context.Context) {
	if c.arrivals == nil {
		c.sleep(ctx, c.think())
	}
}

// bookThroughHold places a hold, then confirms it, or walks away from it
// (never confirming nor releasing) for the --abandon share.
// It returns the confirm's idempotency key, "" when none was sent.
func (c *client) bookThroughHold(ctx context.Context, t Target, rooms int64) (outcome, reply, string) {
	held, hold, _ := c.send(ctx, fmt.Sprintf("/%d/%d/holds", t.EventID, t.HotelID),
		bookingBody{Name: c.name(), Rooms: rooms, TTLSeconds: int64(c.cfg.HoldTTL / time.Second)}, rooms)
	if held != succeeded {
		if held == unknown {
			// A hold that may exist books nothing; it expires on its own.
			c.stats.holdsUnknown.Add(1)
			return failed, reply{}, ""
		}
		return held, reply{RetryAfter: hold.RetryAfter}, ""
	}
	c.stats.holdsPlaced.Add(1)
	if c.rng.Float64() < c.cfg.AbandonShare {
		c.stats.holdsAbandoned.Add(1)
		return succeeded, reply{}, ""
	}
	confirmed, r, key := c.send(ctx, fmt.Sprintf("/%d/%d/holds/%s/confirm", t.EventID, t.HotelID, hold.HoldID), nil, rooms)
	if confirmed == succeeded {
		c.stats.holdsConfirmed.Add(1)
	}
	return confirmed, r, key
}

// send makes one logical request, which asks for rooms (its body may not
// say: a confirm asks for its hold's) that the history records. With
// idempotency keys (the default) a request whose outcome is unknown, or
// still in progress elsewhere, is sent again with the same key until it
// gets a definite answer: the server replays the first outcome instead of
// acting twice, so nothing stays unknown. Without keys it is sent once.
func (c *client) send(ctx context.Context, path string, body any, rooms int64) (outcome, reply, string) {
	c.seq++
	request := c.runID + "-" + strconv.Itoa(c.id) + "-" + strconv.Itoa(c.seq)
	key := ""
	if c.cfg.Idempotency {
		key = request
	}
	timeout := c.cfg.RequestTimeout
	var lostAt time.Time // when an attempt's outcome was first unknown: it may still book
	resolving := false   // the run ended; the request is being resolved with its key
	for attempt := 1; ; attempt++ {
		info := &attemptInfo{}
		invoked := time.Now()
		result, r, err := c.api.post(ctx, path, body, key, c.cred.Key, timeout, info)
		if err != nil && ctx.Err() == nil {
			c.stats.noteError(err.Error())
		}
		if c.stats.keepHistory {
			c.recordAttempt(request, key, path, rooms, invoked, info, result, r, err)
		}
		if result == modeRefused {
			if c.stop != nil {
				c.stop(err)
			}
			return result, r, key
		}
		if r.Replayed {
			c.stats.replayed.Add(1)
		}
		if key == "" || result.final() || (lostAt.IsZero() && result != unknown && result != inProgress) {
			if key == "" && result == unknown && ctx.Err() != nil {
				c.stats.cancelled.Add(1) // and, with no key to ask by, unknown
			}
			return result, r, key
		}
		if lostAt.IsZero() && result == unknown {
			lostAt = time.Now()
		}
		if ctx.Err() != nil && !resolving && !errors.As(context.Cause(ctx), new(*ModeRefusedError)) {
			// The run ended with this request in flight. That is no error
			// and, with a key, no unknown either: ask on, outside the
			// ended run, until the stored outcome is known. (Not when the
			// server refused the run's mode: it refuses the resend too.)
			c.stats.cancelled.Add(1)
			resolving = true
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), min(c.cfg.RetryBudget, resolveWithin))
			defer cancel()
			lostAt = time.Now()
			continue
		}
		budgetSpent := !lostAt.IsZero() && time.Since(lostAt) > c.cfg.RetryBudget
		if budgetSpent || ctx.Err() != nil || (lostAt.IsZero() && attempt >= inProgressAttempts) {
			if !lostAt.IsZero() {
				// The lost attempt may yet book: its rooms stay "maybe".
				return unknown, r, key
			}
			return result, r, key
		}
		if result == unknown && !resolving {
			c.stats.errors.Add(1)
			c.stats.tick(tickError, time.Now())
		}
		c.stats.retries.Add(1)
		c.sleep(ctx, max(c.backoff(attempt, time.Millisecond, 100*time.Millisecond), r.RetryAfter))
		// A resend mostly asks "what became of it?": give each one more
		// time, so that a provoked tiny timeout still ends in an answer.
		timeout = min(2*timeout, max(c.cfg.RequestTimeout, readTimeout))
	}
}

// recordAttempt writes one attempt into the run's history (--history,
// faults): built only when a history is kept, off the hot path otherwise.
func (c *client) recordAttempt(request, key, path string, rooms int64, invoked time.Time, info *attemptInfo, result outcome, r reply, err error) {
	t := c.cfg.Targets[c.target]
	rec := Attempt{
		Type: "attempt", Client: c.id, Request: request, Key: key, Op: operation(path),
		Server: info.server, Invoked: invoked, Completed: time.Now(), Class: result.class(), Status: info.status,
		Event: t.EventID, Hotel: t.HotelID, Rooms: rooms, Code: info.code, Replayed: r.Replayed,
	}
	if result == succeeded {
		rec.Reservation = r.ReservationID
	}
	if stored := c.storedKey(key); stored != key {
		rec.StoredKey = stored
	}
	if err != nil {
		rec.Error = err.Error()
	}
	c.stats.recordAttempt(rec)
}

// storedKey is an idempotency key as the server stores it, scoped to this
// client's API client: what the checker looks the key up by.
func (c *client) storedKey(key string) string {
	if key == "" {
		return ""
	}
	return evento.ScopedKey(c.cred.Client, key)
}

func (c *client) name() string { return "client-" + strconv.Itoa(c.id) }

// bookingBody is what reserve and hold requests send.
type bookingBody struct {
	Name       string `json:"name"`
	Rooms      int64  `json:"rooms"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
}

// errorRun is a client's current run of errors with no answer between.
type errorRun struct {
	since time.Time
	n     int
}

// afterError counts an error and waits (at least retryAfter, the server's
// word): it says whether to go on. A client gives up only after nothing
// but errors for RetryBudget, long enough to ride out a server restart or
// PostgreSQL's crash recovery.
func (c *client) afterError(ctx context.Context, errs *errorRun, retryAfter time.Duration) bool {
	c.stats.errors.Add(1)
	c.stats.tick(tickError, time.Now())
	if errs.n == 0 {
		errs.since = time.Now()
	}
	errs.n++
	if time.Since(errs.since) > c.cfg.RetryBudget {
		c.stats.gaveUp.Add(1)
		return false
	}
	c.stats.retries.Add(1)
	// Backoff for errors grows to a second, so that clients wait out a
	// fault instead of hammering it.
	c.sleep(ctx, max(c.backoff(errs.n, 10*time.Millisecond, time.Second), retryAfter))
	return true
}

// resolveWithin bounds how long, after the run ended, a request it cut off
// is resent with its key to learn its outcome.
const resolveWithin = 10 * time.Second

// inProgressAttempts bounds how often a request whose key is still in
// progress elsewhere is asked again, when no attempt of it was lost.
const inProgressAttempts = 10

// backoff is jittered, so that clients that lost the same race do not
// collide again in lockstep, and grows with n, by step, up to ceiling.
func (c *client) backoff(n int, step, ceiling time.Duration) time.Duration {
	return time.Duration(c.rng.Int64N(int64(min(step<<min(n, 7), ceiling))) + 1)
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
		return // think 0: no timer to start and stop on every booking
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
