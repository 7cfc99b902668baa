package api

import (
	"net/http"
	"strings"

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
	// Bounded like any other read: a stalled database answers 503 here
	// too. Not cancelled with this request: the lookup may be answering a
	// flood of requests with the same key (keyCache), not this one alone.
	ctx, cancel := s.writeContext(r)
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
