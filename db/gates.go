package db

import (
	"context"
	"sync"
)

// gates let at most size requests per key past them at once, per server;
// the rest wait here, in memory, without a pooled connection. A request
// waiting inside PostgreSQL for a row or an advisory lock holds a
// connection and a backend while it waits, and every commit of the lock's
// holder wakes all of them to queue again: waiting here costs nothing.
// Two gates use it (see Store): one per client for capped holds, whose
// cap is checked under the client's advisory lock (queries/holds.sql,
// LockClientHolds), and one per hotel for the bookings that queue on the
// hotel's row (admission.go).
type gates[K comparable] struct {
	size  int
	mu    sync.Mutex
	gates map[K]*gate
}

type gate struct {
	turns chan struct{} // one token per request inside
	users int           // requests inside or queued; the gate goes at 0
}

func newGates[K comparable](size int) *gates[K] {
	return &gates[K]{size: size, gates: map[K]*gate{}}
}

// enter waits until fewer than size requests for key are inside, or ctx
// ends. leave lets the next one in.
func (g *gates[K]) enter(ctx context.Context, key K) (leave func(), err error) {
	g.mu.Lock()
	gt := g.gates[key]
	if gt == nil {
		gt = &gate{turns: make(chan struct{}, g.size)}
		g.gates[key] = gt
	}
	gt.users++
	g.mu.Unlock()

	select {
	case gt.turns <- struct{}{}:
		return func() {
			<-gt.turns
			g.forget(key, gt)
		}, nil
	case <-ctx.Done():
		g.forget(key, gt)
		return nil, ctx.Err()
	}
}

// forget drops gt once nobody uses it, so that the map holds only the keys
// with a request in progress.
func (g *gates[K]) forget(key K, gt *gate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gt.users--; gt.users == 0 {
		delete(g.gates, key)
	}
}
