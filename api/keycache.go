package api

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/evento-lab/evento"
)

// authCacheFor is how long a server trusts a key it has looked up: a
// revoked key stops working on every server within this time, and a
// client's requests cost one lookup per period instead of one each.
const authCacheFor = 5 * time.Second

// refusedKeyFor is how long a server remembers a key the database did not
// know, so that a stranger repeating one made-up key costs the database
// one lookup per period, not one per request. It delays no real client:
// `evento clients add` makes a key of 256 random bits and shows it once,
// so nobody can have tried it before it existed, and a revoked key never
// comes back. (The one way to meet it: a key tried, refused, and then
// written into api_clients by hand within this time.) A remembered
// refusal answers the same 401, word for word, as a looked-up one; it is
// quicker, but only a key that is not live can be remembered, so the
// difference tells a stranger nothing about live keys.
const refusedKeyFor = 15 * time.Second

// keyCacheMax bounds each of the two maps; past it, a map drops its
// expired entries, and starts again empty if that is not enough, so keys
// cannot be used to grow a server's memory.
const keyCacheMax = 10_000

// keyCache remembers, by hash, keys it looked up: those it found for
// authCacheFor, those it did not for refusedKeyFor. Its answers, a refusal
// included, are the same as the database's, word for word.
type keyCache struct {
	mu      sync.Mutex
	live    map[string]cachedClient
	refused map[string]time.Time // until when
	// lookups makes a flood of one key wait for one lookup rather than
	// each ask the database before the first answer is in.
	lookups singleflight.Group
}

type cachedClient struct {
	client  evento.APIClient
	expires time.Time
}

// lookup finds key's live client, asking svc only when the cache cannot
// answer. ctx bounds the lookup, which answers every request with key
// that arrives while it runs.
func (c *keyCache) lookup(ctx context.Context, svc evento.Service, key string) (evento.APIClient, error) {
	hash := string(evento.HashAPIKey(key))
	if client, ok, err := c.cached(hash); ok {
		return client, err
	}
	found, err, _ := c.lookups.Do(hash, func() (any, error) {
		// Again: a lookup that ended between the check above and this
		// one has answered for this key.
		if client, ok, err := c.cached(hash); ok {
			return client, err
		}
		client, err := svc.Authenticate(ctx, []byte(hash))
		c.remember(hash, client, err)
		return client, err
	})
	if err != nil {
		return evento.APIClient{}, err
	}
	return found.(evento.APIClient), nil
}

// cached is the cache's answer for hash (a client, or the refusal) and
// whether it has one.
func (c *keyCache) cached(hash string) (evento.APIClient, bool, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.live[hash]; ok && now.Before(e.expires) {
		return e.client, true, nil
	}
	if until, ok := c.refused[hash]; ok && now.Before(until) {
		return evento.APIClient{}, true, evento.ErrUnauthenticated
	}
	return evento.APIClient{}, false, nil
}

// remember keeps a lookup's answer: a client, or a refusal. An error (the
// database down) is not an answer about the key and is not kept.
func (c *keyCache) remember(hash string, client evento.APIClient, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	switch {
	case err == nil:
		c.live = bounded(c.live, now, func(e cachedClient) time.Time { return e.expires })
		c.live[hash] = cachedClient{client: client, expires: now.Add(authCacheFor)}
	case errors.Is(err, evento.ErrUnauthenticated):
		c.refused = bounded(c.refused, now, func(until time.Time) time.Time { return until })
		c.refused[hash] = now.Add(refusedKeyFor)
	}
}

// bounded returns m with room for one more entry: m itself while it has
// room, else m without its expired entries, else a new map.
func bounded[V any](m map[string]V, now time.Time, expires func(V) time.Time) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	if len(m) < keyCacheMax {
		return m
	}
	for k, v := range m {
		if !now.Before(expires(v)) {
			delete(m, k)
		}
	}
	if len(m) < keyCacheMax {
		return m
	}
	return map[string]V{}
}
