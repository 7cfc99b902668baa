package client

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evento-lab/evento"
)

// Target is one hotel of one event that clients book at.
type Target struct {
	EventID  int64
	HotelID  int64
	Name     string
	Assigned int64
}

// Config describes one load run.
type Config struct {
	Servers  []string // base URLs
	Route    Route    // how requests are spread over Servers; "" is RoundRobin
	Strategy string   // the reserve mode
	Clients  int
	Targets  []Target // clients are spread over these, client i on target i % len
	Think    Range    // pause after each reservation attempt
	Seed     uint64   // makes every client's random choices repeatable
	MaxRooms int      // most rooms one request asks for (the server's --max-rooms)
	// RequestTimeout bounds one HTTP request. A reserve that times out has
	// an unknown outcome: it may have booked.
	RequestTimeout time.Duration
	// ConnsPerServer caps open connections to each server, so ten thousand
	// clients share a pool of connections instead of opening one each.
	ConnsPerServer int
	// RetryBudget is how long a client rides out a fault: it gives up only
	// after nothing but errors (transport errors, 5xx, unreachable
	// servers) for this long, and resends a request whose outcome is
	// unknown, with its key, for this long.
	RetryBudget time.Duration
	// Idempotency sends an Idempotency-Key with every booking request and
	// resends it on unknown outcomes; without it, unknown outcomes stay
	// unknown (a blind resend could book twice).
	Idempotency bool
	// HoldShare is the share of bookings that go hold, then confirm;
	// AbandonShare the share of those holds the client walks away from.
	HoldShare    float64
	AbandonShare float64
	HoldTTL      time.Duration
	// SkipChecks books without asking for availability first, checking
	// only after a refusal: half the requests, for throughput benchmarks.
	// The brief's protocol (the default) checks before every booking.
	SkipChecks bool
	// History keeps every attempt (Result.History), for --history.
	History bool
	// Rate, when positive, is the open model: bookings arrive at this many
	// a second on a Poisson schedule drawn from Seed (as pgbench -R),
	// whether or not earlier ones have been answered; Clients bounds how
	// many are in flight, and Think is not used. Latency counts from each
	// booking's intended start, so a stall shows in it instead of hiding
	// (coordinated omission). Zero: the closed model, each client waiting
	// for its answer and thinking before the next booking.
	Rate float64
	// Credentials, when the servers require API keys (serve --auth keys):
	// client i sends Credentials[i % len], so with one per client every
	// simulated client is a client of its own, with its own holds, cap and
	// idempotency keys. None: the servers do not authenticate.
	Credentials []Credential
}

// Credential is an API key and the client it names.
type Credential struct {
	Key    string
	Client evento.ClientID
}

func (c *Config) setDefaults() {
	if c.Route == "" {
		c.Route = RoundRobin
	}
	if c.MaxRooms <= 0 {
		c.MaxRooms = 5
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.ConnsPerServer <= 0 {
		c.ConnsPerServer = 256
	}
	if c.RetryBudget <= 0 {
		c.RetryBudget = DefaultRetryBudget
	}
	if c.HoldTTL < time.Second {
		c.HoldTTL = 300 * time.Second
	}
}

// DefaultRetryBudget outlasts a server restart and PostgreSQL's crash
// recovery on a small database.
const DefaultRetryBudget = 30 * time.Second

// Range is a closed interval of durations; a pause is drawn uniformly from it.
type Range struct{ Min, Max time.Duration }

// ParseRange reads "0-300ms", "50ms" or "0".
func ParseRange(s string) (Range, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	// "0-300ms": the unit of the upper bound applies to a bare lower bound.
	if isRange && lo != "0" && !strings.ContainsAny(lo, "nuµmsh") {
		lo += strings.TrimLeft(hi, "0123456789.")
	}
	min, err := time.ParseDuration(lo)
	if err != nil {
		return Range{}, fmt.Errorf("%q is not a duration", lo)
	}
	max, err := time.ParseDuration(hi)
	if err != nil {
		return Range{}, fmt.Errorf("%q is not a duration", hi)
	}
	if min < 0 || max < min {
		return Range{}, errors.New("want 0 <= min <= max")
	}
	return Range{Min: min, Max: max}, nil
}

func (r Range) String() string {
	if r.Min == r.Max {
		return r.Min.String()
	}
	return r.Min.String() + "-" + r.Max.String()
}
