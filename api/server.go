// Package api serves Evento's HTTP endpoints. It knows HTTP and nothing of
// SQL: it validates requests, calls an evento.Service, renders the domain
// outcomes it returns (first answers and idempotent replays alike), and
// maps domain errors to statuses and stable codes in one place (errors.go).
package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/evento-lab/evento"
)

// Options tune the server's limits.
type Options struct {
	// MaxRooms is the most rooms one request may reserve (default 5).
	MaxRooms int32
	// QueryTimeout bounds each request's time in the database (default 5s);
	// past it the client gets 503 unavailable.
	QueryTimeout time.Duration
	// KeepIdempotencyKeys is how long a key's outcome is replayed (default 24h).
	KeepIdempotencyKeys time.Duration
	// Modes are the reserve modes this server serves, each one of the
	// service's Strategies (default: all of them); the others answer 403
	// mode_disabled. The API cannot tell a safe strategy from an unsafe
	// one: whoever wires the server chooses (evento serve --modes).
	Modes []string
	// Metrics count requests (default: new ones, without pool statistics);
	// AdminHandler serves them.
	Metrics *Metrics
	Log     *slog.Logger
	// Auth is AuthNone (the default) or AuthKeys.
	Auth string
	// MaxHeldRooms caps the rooms one client holds at once, unless its own
	// record says otherwise (0: DefaultMaxHeldRooms; negative: no cap).
	MaxHeldRooms int32
	// MaxRoomsPerClient caps the rooms one client may have at one event,
	// booked or held, unless its own record says otherwise (0:
	// DefaultMaxRoomsPerClient; negative: no limit). Never the anonymous
	// client's: it is every caller of a server without --auth.
	MaxRoomsPerClient int32
	// MaxHoldTTL is the longest hold a client may ask for (default 15 min).
	MaxHoldTTL time.Duration
	// RateLimit is the requests a second each client may send, after a
	// burst of RateBurst (default: RateLimit rounded up); past it, 429
	// rate_limited with Retry-After. 0: no limit. Under AuthNone every
	// request is the one anonymous client, so the limit is the server's.
	RateLimit float64
	RateBurst int
	// HoldCooldown is how long after a client's hold at a hotel ended
	// (released or expired) it may not hold there again (0: no cooldown;
	// serve's default is DefaultHoldCooldown).
	HoldCooldown time.Duration
}

// maxBodyBytes is far above any valid request (a 200-character name and a
// small integer); a larger body is refused before it is parsed.
const maxBodyBytes = 4 << 10

// Server routes Evento's endpoints to the service.
type Server struct {
	svc   evento.Service
	modes []string
	opts  Options
	log   *slog.Logger
	mux   *http.ServeMux
	// handler is mux behind the metrics and the JSON 404/405 answers.
	handler http.Handler
	keys    keyCache
	limiter *rateLimiter // nil: no rate limit
	// enabled are the modes served (Options.Modes), a subset of modes.
	enabled []string
}

// NewServer returns the HTTP handler for Evento's API.
func NewServer(svc evento.Service, opts Options) *Server {
	if opts.MaxRooms <= 0 {
		opts.MaxRooms = 5
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 5 * time.Second
	}
	if opts.KeepIdempotencyKeys <= 0 {
		opts.KeepIdempotencyKeys = DefaultKeepIdempotencyKeys
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.Auth == "" {
		opts.Auth = AuthNone
	}
	if opts.MaxHeldRooms == 0 {
		opts.MaxHeldRooms = DefaultMaxHeldRooms
	}
	if opts.MaxRoomsPerClient == 0 {
		opts.MaxRoomsPerClient = DefaultMaxRoomsPerClient
	}
	if opts.MaxHoldTTL <= 0 {
		opts.MaxHoldTTL = DefaultMaxHoldTTL
	}
	s := &Server{svc: svc, modes: svc.Strategies(), opts: opts, log: opts.Log, mux: http.NewServeMux()}
	s.enabled = enabledModes(s.modes, opts.Modes)
	s.limiter = newRateLimiter(opts.RateLimit, opts.RateBurst)
	s.handler = opts.Metrics.instrument(http.HandlerFunc(s.route), s.modes)
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /{event_id}/available", s.handleEventAvailability)
	s.mux.HandleFunc("GET /{event_id}/{hotel_id}/available", s.handleHotelAvailability)
	s.mux.HandleFunc("POST /{event_id}/{hotel_id}/reserve/{mode}", s.handleReserve)
	// Holds live under their hotel: a top-level /holds/... would clash with
	// GET /{event_id}/available.
	s.mux.HandleFunc("POST /{event_id}/{hotel_id}/holds", s.handlePlaceHold)
	s.mux.HandleFunc("GET /{event_id}/{hotel_id}/holds/{hold_id}", s.handleGetHold)
	s.mux.HandleFunc("POST /{event_id}/{hotel_id}/holds/{hold_id}/confirm", s.handleConfirmHold)
	s.mux.HandleFunc("DELETE /{event_id}/{hotel_id}/holds/{hold_id}", s.handleReleaseHold)
	s.mux.HandleFunc("DELETE /{event_id}/{hotel_id}/reservations/{reservation_id}", s.handleCancelReservation)
	return s
}

// ServeHTTP serves the API, counting every request in the metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// route answers unknown paths and methods with the same JSON error body as
// every other failure, instead of the mux's plain-text defaults.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if len(r.TransferEncoding) > 0 {
		// First, before anything costs a lookup. net/http has already
		// dropped a Content-Length sent beside Transfer-Encoding, so this
		// refuses every framing but Content-Length, and closes the
		// connection: whatever follows in it was framed by a guess.
		w.Header().Set("Connection", "close")
		r.Pattern = pattern // for the metrics' route label
		s.writeError(w, r, errTransferEncoding)
		return
	}
	if pattern != "GET /healthz" {
		// Before anything else, so a stranger learns nothing, not even
		// which paths exist.
		who, err := s.authenticate(r)
		if err == nil && s.limiter != nil {
			// Every request a client sends counts, a 404 too.
			err = s.limiter.admit(who.client)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		// In place, not a copy: the metrics read the route the mux sets on
		// this very request.
		*r = *r.WithContext(context.WithValue(r.Context(), callerKey{}, who))
	}
	if pattern == "" {
		probe := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			s.writeError(w, r, newError(evento.ErrMethodNotAllowed,
				echo(r.Method)+" is not allowed here; allowed: "+probe.header.Get("Allow")))
			return
		}
		s.writeError(w, r, newError(evento.ErrNotFound, "no such endpoint: "+echo(r.URL.Path)))
		return
	}
	// Here, not in each handler, so that no POST endpoint can forget it.
	if r.Method == http.MethodPost {
		if err := requireJSON(r); err != nil {
			r.Pattern = pattern // for the metrics' route label
			s.writeError(w, r, err)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// queryContext bounds a read's time in the database; the read stops when
// its client goes away.
func (s *Server) queryContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.opts.QueryTimeout)
}

// writeContext bounds a write's time in the database. A write, once
// started, runs to its end even if the client goes away (a client-side
// timeout): cancelling it halfway would turn every timeout into a rollback
// race, and with an idempotency key the stored outcome is exactly what the
// client's retry needs.
func (s *Server) writeContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), s.opts.QueryTimeout)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.queryContext(r)
	defer cancel()
	if err := s.svc.Ping(ctx); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"}, s.log)
}

// writeOutcome answers with a write's outcome: its error, its refusal, or
// its value as render says. A replay is rendered exactly as the first
// answer was, and says that it is one.
func writeOutcome[T any](s *Server, w http.ResponseWriter, r *http.Request, outcome evento.Outcome[T], err error, render func(T) (int, any)) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if outcome.Replayed {
		w.Header().Set(IdempotentReplayedHeader, "true")
	}
	if outcome.Refusal != nil {
		s.writeError(w, r, outcome.Refusal)
		return
	}
	status, body := render(outcome.Value)
	writeJSON(w, status, body, s.log)
}

// Every JSON answer's headers, shared: set by assignment, they cost no
// allocation and no canonicalization per answer. Full slices, so that an
// Add appends to a copy.
var (
	jsonContentType = []string{"application/json"}[:1:1]
	noStore         = []string{"no-store"}[:1:1]
)

func writeJSON(w http.ResponseWriter, status int, body any, log *slog.Logger) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		log.Debug("write response", "err", err)
	}
}

// headerRecorder captures what the mux's default 404/405 handlers would
// answer, so ServeHTTP can say the same in JSON.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(status int)      { h.status = status }
