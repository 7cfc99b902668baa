package db

import (
	"context"
	"sync"

	"github.com/evento-lab/evento"
)

// clientGates let one capped hold per client at a time, per server, ask
// the database. The cap is checked under the client's advisory lock
// (queries/holds.sql, LockClientHolds), and a transaction waiting for that
// lock holds a pooled connection while it waits: a client flooding hold
// requests took one connection per request and starved every other
// client of the pool. Queued here instead, in memory, its requests wait
// without a connection; across servers at most one per server waits on
// the lock itself, which stays what makes the cap exact.
type clientGates struct {
	mu    sync.Mutex
	gates map[evento.ClientID]*clientGate
}

type clientGate struct {
	turn  chan struct{} // holds a token while a request of the client is inside
	users int           // requests inside or queued; the gate goes at 0
}

// enter waits, without a connection, until no other request of client is
// inside, or ctx ends. leave lets the next one in.
func (g *clientGates) enter(ctx context.Context, client evento.ClientID) (leave func(), err error) {
	g.mu.Lock()
	if g.gates == nil {
		g.gates = map[evento.ClientID]*clientGate{}
	}
	gate := g.gates[client]
	if gate == nil {
		gate = &clientGate{turn: make(chan struct{}, 1)}
		g.gates[client] = gate
	}
	gate.users++
	g.mu.Unlock()

	select {
	case gate.turn <- struct{}{}:
		return func() {
			<-gate.turn
			g.forget(client, gate)
		}, nil
	case <-ctx.Done():
		g.forget(client, gate)
		return nil, ctx.Err()
	}
}

// forget drops gate once nobody uses it, so that the map holds only the
// clients with a hold in progress.
func (g *clientGates) forget(client evento.ClientID, gate *clientGate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gate.users--; gate.users == 0 {
		delete(g.gates, client)
	}
}
