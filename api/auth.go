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
	return caller{client: client.ID, maxHeldRooms: s.maxHeldRooms(client.MaxHeldRooms)}, nil
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
