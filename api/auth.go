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

// DefaultMaxRoomsPerClient is how many rooms one client may have at one
// event, booked or held, unless the server or the client's own record says
// otherwise: twice what one request may book (serve --max-rooms, 5), as
// ticket sales cap a buyer at a few tickets per event, so that no one
// buyer (a scalper's script) takes a sale that thousands are waiting for.
const DefaultMaxRoomsPerClient = 10

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
	// Bounded like any other read: a stalled database answers 503 here
	// too. Not cancelled with this request: the lookup may be answering a
	// flood of requests with the same key (keyCache), not this one alone.
	ctx, cancel := s.writeContext(r)
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
