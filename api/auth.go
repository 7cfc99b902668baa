package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/evento-lab/evento"
)

// The ways a server knows its clients (serve --auth).
const (
	// AuthNone: every request is the anonymous client. For the lab and a
	// server on loopback; serve refuses it elsewhere without --insecure.
	AuthNone = "none"
	// AuthKeys: every request but /healthz carries Authorization: Bearer
	// KEY, a key made by `evento clients add`.
	AuthKeys = "keys"
)

// DefaultMaxHeldRooms caps the rooms one client holds at once unless the
// server or the client's own record says otherwise.
const DefaultMaxHeldRooms = 10

// DefaultMaxRoomsPerClient is how many rooms one client may have at one
// event, booked or held, unless the server or the client's own record says
// otherwise: twice what one request may book (serve --max-rooms, 5), as
// ticket sales cap a buyer at a few tickets per event, so that no one
// buyer (a scalper's script) takes a sale that thousands are waiting for.
const DefaultMaxRoomsPerClient = 10

// authCacheFor is how long a server trusts a key it has looked up: a
// revoked key stops working on every server within this time, and a
// client's requests cost one lookup per period instead of one each.
const authCacheFor = 5 * time.Second

// authCacheMax bounds the cache; past it, it starts again empty, so keys
// cannot be used to grow a server's memory.
const authCacheMax = 10_000

var errUnauthenticated = newError(evento.ErrUnauthenticated,
	"this server requires an API key: send Authorization: Bearer KEY (evento clients add NAME makes one)")

// caller is who sent a request, as the handlers need it.
type caller struct {
	client       evento.ClientID
	maxHeldRooms int32 // 0: no cap
	// maxRoomsPerEvent is the client's limit at one event; 0: none.
	maxRoomsPerEvent int32
}

type callerKey struct{}

// callerOf is the request's caller, as authenticate put it in the context.
func callerOf(r *http.Request) caller {
	c, _ := r.Context().Value(callerKey{}).(caller)
	return c
}

// authenticate finds the request's caller: the anonymous client without
// auth, the key's client with it.
func (s *Server) authenticate(r *http.Request) (caller, error) {
	if s.opts.Auth != AuthKeys {
		// No limit per event: the anonymous client is every caller, and
		// a limit on all of them together would stop the sale, not a
		// buyer. A server that sells to the public runs --auth keys.
		return caller{client: evento.Anonymous, maxHeldRooms: s.maxHeldRooms(0)}, nil
	}
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" || len(key) > 200 {
		return caller{}, errUnauthenticated
	}
	// Bounded like any other read: a stalled database answers 503 here too.
	ctx, cancel := s.queryContext(r)
	defer cancel()
	client, err := s.keys.lookup(ctx, s.svc, key)
	if err != nil {
		return caller{}, err
	}
	return caller{client: client.ID, maxHeldRooms: s.maxHeldRooms(client.MaxHeldRooms), maxRoomsPerEvent: s.maxRoomsPerEvent(client.MaxRoomsPerEvent)}, nil
}

// maxRoomsPerEvent is the limit at one event for a client whose own is own
// (0: none of its own): the client's, else the server's; 0 means none. The
// anonymous client never gets here: it has no limit (authenticate).
func (s *Server) maxRoomsPerEvent(own int32) int32 {
	if own > 0 {
		return own
	}
	return max(s.opts.MaxRoomsPerClient, 0)
}

// maxHeldRooms is the cap for a client whose own is own (0: none of its
// own): the client's, else the server's; 0 means no cap.
func (s *Server) maxHeldRooms(own int32) int32 {
	if own > 0 {
		return own
	}
	return max(s.opts.MaxHeldRooms, 0)
}

// keyCache remembers authenticated keys for authCacheFor, by hash.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]cachedClient
}

type cachedClient struct {
	client  evento.APIClient
	expires time.Time
}

func (c *keyCache) lookup(ctx context.Context, svc evento.Service, key string) (evento.APIClient, error) {
	hash := evento.HashAPIKey(key)
	c.mu.Lock()
	cached, ok := c.entries[string(hash)]
	c.mu.Unlock()
	if ok && time.Now().Before(cached.expires) {
		return cached.client, nil
	}
	client, err := svc.Authenticate(ctx, hash)
	if err != nil {
		return evento.APIClient{}, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= authCacheMax {
		c.entries = map[string]cachedClient{}
	}
	c.entries[string(hash)] = cachedClient{client: client, expires: time.Now().Add(authCacheFor)}
	c.mu.Unlock()
	return client, nil
}
