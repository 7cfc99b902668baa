package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/evento-lab/evento"
)

// IdempotencyKeyHeader carries a client's key for one logical request, as
// in Stripe's API; a repeat is answered with IdempotentReplayedHeader.
const (
	IdempotencyKeyHeader     = "Idempotency-Key"
	IdempotentReplayedHeader = "Idempotent-Replayed"
	maxIdempotencyKeyLength  = 255
)

// idempotencyKey reads and checks the Idempotency-Key header; nil when
// absent. The fingerprint binds the key to this exact request.
func (s *Server) idempotencyKey(r *http.Request, route string, request any) (*evento.IdempotencyKey, error) {
	values := r.Header.Values(IdempotencyKeyHeader)
	if len(values) == 0 {
		return nil, nil
	}
	key := values[0]
	if len(values) > 1 || !validKey(key) {
		return nil, invalid("Idempotency-Key must be one value of 1 to 255 visible ASCII characters")
	}
	canonical, err := json.Marshal(request)
	if err != nil {
		return nil, err
	}
	// One buffer, on the stack for any request a client sends.
	var text [256]byte
	sum := sha256.Sum256(append(append(append(text[:0], route...), '\n'), canonical...))
	var fingerprint [2 * sha256.Size]byte
	hex.Encode(fingerprint[:], sum[:])
	// Each client's keys are its own: two clients may both send order-18,
	// and nobody can squat or replay a key of someone else's.
	who := callerOf(r).client
	if who == evento.Anonymous && looksScoped(key) {
		// Stored as is, it would be the very key of an API client's
		// request, on a database a server with --auth keys shares.
		return nil, invalid("Idempotency-Key may not start with c, digits and a colon: that is how API clients' keys are stored")
	}
	scoped := evento.ScopedKey(who, key)
	return &evento.IdempotencyKey{Key: scoped, Fingerprint: string(fingerprint[:]), Keep: s.opts.KeepIdempotencyKeys}, nil
}

func validKey(key string) bool {
	if len(key) < 1 || len(key) > maxIdempotencyKeyLength {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// DefaultKeepIdempotencyKeys is how long a key's outcome is replayed.
const DefaultKeepIdempotencyKeys = 24 * time.Hour

// looksScoped reports whether key has the shape evento.ScopedKey gives an
// API client's key: "c", digits, ":".
func looksScoped(key string) bool {
	rest, ok := strings.CutPrefix(key, "c")
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	return ok && digits > 0 && digits < len(rest) && rest[digits] == ':'
}
