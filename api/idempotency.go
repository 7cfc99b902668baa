package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/evento-lab/evento/db"
)

// IdempotencyKeyHeader carries a client's key for one logical request, as
// in Stripe's API; a repeat is answered with IdempotentReplayedHeader.
const (
	IdempotencyKeyHeader     = "Idempotency-Key"
	IdempotentReplayedHeader = "Idempotent-Replayed"
	maxIdempotencyKeyLength  = 255
)

// storedCodes are outcomes a key replays. Retryable ones (conflict,
// unavailable, request_in_progress) and bugs are not stored: a retry with
// the same key runs again.
var storedCodes = map[string]bool{
	CodeNotFound: true, CodeSoldOut: true, CodeInsufficientRooms: true,
	CodeHoldExpired: true, CodeHoldReleased: true, CodeHoldConfirmed: true,
}

// action makes one booking-like change through b and says what to answer.
type action func(ctx context.Context, b db.Booker) (status int, body any, err error)

// idempotencyKey reads and checks the Idempotency-Key header; nil when
// absent. The fingerprint binds the key to this exact request.
func (s *Server) idempotencyKey(r *http.Request, route string, request any) (*db.IdempotencyKey, error) {
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
	sum := sha256.Sum256(append([]byte(route+"\n"), canonical...))
	return &db.IdempotencyKey{Key: key, Fingerprint: hex.EncodeToString(sum[:]), Keep: s.opts.KeepIdempotencyKeys}, nil
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

// perform runs act, once per idempotency key when the client sent one,
// and writes the answer (the stored one on a replay). It runs on
// writeContext: a started write outlives its client.
func (s *Server) perform(w http.ResponseWriter, r *http.Request, key *db.IdempotencyKey, policy db.TxPolicy, act action) {
	ctx, cancel := s.writeContext(r)
	defer cancel()
	if key == nil {
		status, body, err := act(ctx, s.store)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, status, body, s.log)
		return
	}
	resp, replayed, err := s.store.Idempotently(ctx, *key, policy, func(ctx context.Context, b db.Booker) (db.StoredResponse, error) {
		return toStored(act(ctx, b))
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeStored(w, resp, replayed)
}

// toStored turns an action's answer into the response a key keeps, or
// returns the error when the outcome must not be kept (a retry should run
// again).
func toStored(status int, body any, err error) (db.StoredResponse, error) {
	if err != nil {
		apiErr := toAPIError(err)
		if !storedCodes[apiErr.Code] {
			return db.StoredResponse{}, err
		}
		status, body = apiErr.Status, apiErr.body()
	}
	encoded, err := json.Marshal(body)
	if err != nil {
		return db.StoredResponse{}, err
	}
	return db.StoredResponse{Status: status, Body: append(encoded, '\n')}, nil
}

// writeStored answers with a stored response.
func (s *Server) writeStored(w http.ResponseWriter, resp db.StoredResponse, replayed bool) {
	if resp.Status >= 400 {
		var stored errorBody
		if json.Unmarshal(resp.Body, &stored) == nil {
			recordCode(w, stored.Error.Code)
		}
	}
	if replayed {
		w.Header().Set(IdempotentReplayedHeader, "true")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(resp.Status)
	if _, err := w.Write(resp.Body); err != nil {
		s.log.Debug("write response", "err", err)
	}
}

// DefaultKeepIdempotencyKeys is how long a key's outcome is replayed.
const DefaultKeepIdempotencyKeys = 24 * time.Hour
