package api

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/evento-lab/evento"
)

// rateLimiter gives each client a token bucket (Options.RateLimit): a
// client may send RateBurst requests at once and RateLimit a second after
// that. Buckets are per server: behind N servers a client gets N shares.
type rateLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[evento.ClientID]*rate.Limiter
	// sweepAt is the number of buckets at which the next new one first
	// drops the idle ones.
	sweepAt int
}

// minSweepAt: below this many buckets, none is dropped.
const minSweepAt = 1024

func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(perSecond+0.999))
	}
	return &rateLimiter{limit: rate.Limit(perSecond), burst: burst,
		buckets: map[evento.ClientID]*rate.Limiter{}, sweepAt: minSweepAt}
}

// admit takes a token from client's bucket, or refuses with how long
// until one is there.
func (l *rateLimiter) admit(client evento.ClientID) error {
	now := time.Now()
	l.mu.Lock()
	bucket := l.buckets[client]
	if bucket == nil {
		if len(l.buckets) >= l.sweepAt {
			l.sweep(now)
		}
		bucket = rate.NewLimiter(l.limit, l.burst)
		l.buckets[client] = bucket
	}
	l.mu.Unlock()
	r := bucket.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if wait <= 0 {
		return nil
	}
	// Refused requests take no token: a client that waits as told gets in.
	r.CancelAt(now)
	refusal := newError(evento.ErrRateLimited, fmt.Sprintf(
		"this client may send %g requests a second (bursts of %d); the next is welcome in %s", float64(l.limit), l.burst, wait.Round(time.Millisecond)))
	refusal.RetryAfter = secondsUntil(now.Add(wait))
	return refusal
}

// sweep drops the buckets that are full again: a full bucket is a new
// one, so dropping it forgets nothing, and buckets of clients gone quiet
// (revoked ones included) do not pile up. The next sweep waits until the
// map has doubled, so sweeps cost O(1) a request.
func (l *rateLimiter) sweep(now time.Time) {
	for client, bucket := range l.buckets {
		if bucket.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, client)
		}
	}
	l.sweepAt = max(minSweepAt, 2*len(l.buckets))
}
