package api

import (
	"testing"
	"time"

	"github.com/evento-lab/evento"
)

// Buckets of clients gone quiet are dropped: a stream of new clients, each
// sending one request, keeps at most twice the clients active within a
// refill (here a millisecond) plus the sweep's floor.
func TestIdleBucketsAreDropped(t *testing.T) {
	t.Parallel()
	l := newRateLimiter(1000, 1)
	for i := range 20_000 {
		if err := l.admit(evento.ClientID(i + 1)); err != nil {
			t.Fatalf("client %d's first request: %v", i+1, err)
		}
		if i%500 == 0 {
			time.Sleep(2 * time.Millisecond) // every bucket so far refills
		}
	}
	if n := len(l.buckets); n > 2*minSweepAt {
		t.Fatalf("%d buckets for 20000 clients that each sent one request: want at most %d", n, 2*minSweepAt)
	}
	// A bucket in use is kept: its client is still refused.
	l = newRateLimiter(0.001, 1)
	_ = l.admit(1)
	for i := range 5 * minSweepAt {
		_ = l.admit(evento.ClientID(i + 2))
	}
	if err := l.admit(1); err == nil {
		t.Fatal("client 1 got a second token from a bucket that refills in 1000 s")
	}
}
