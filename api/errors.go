package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/evento-lab/evento"
)

// Error codes are part of the API contract (api/openapi.yaml): clients
// branch on them, so they never change meaning.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeUnknownMode       = "unknown_mode"
	CodeModeDisabled      = "mode_disabled"
	CodeNotFound          = "not_found"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeSoldOut           = "sold_out"
	CodeInsufficientRooms = "insufficient_rooms"
	CodeConflict          = "conflict"
	CodePayloadTooLarge   = "payload_too_large"
	CodeUnsupportedMedia  = "unsupported_media_type"
	CodeUnavailable       = "unavailable"
	CodeInternal          = "internal"

	CodeHoldExpired          = "hold_expired"
	CodeHoldReleased         = "hold_released"
	CodeHoldConfirmed        = "hold_confirmed"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeRequestInProgress    = "request_in_progress"
	CodeOutcomeUnknown       = "outcome_unknown"
	CodeRoomsHeld            = "rooms_held"
	CodeHoldLimit            = "hold_limit"
	CodeInventorySharded     = "inventory_sharded"
	CodeUnauthenticated      = "unauthenticated"
)

// Error is an error with a status and code meant for the client. Its message
// is safe to show; internal details stay in the server's log.
type Error struct {
	Status int
	Code   string
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int
	Message    string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// body is the JSON every error answers with.
func (e *Error) body() errorBody {
	return errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}}
}

func invalid(message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: message}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// toAPIError maps every error a handler can meet to what the client sees.
// This is the one place where domain errors become HTTP statuses.
func toAPIError(err error) *Error {
	var apiErr *Error
	var shortfall *evento.ShortfallError
	var notFound *evento.NotFoundError
	var holdLimit *evento.HoldLimitError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &shortfall) && errors.Is(err, evento.ErrInventorySharded):
		// Not sold out either: the rooms are there, for mode sharded.
		return &Error{Status: http.StatusConflict, Code: CodeInventorySharded, Message: shortfall.Error()}
	case errors.As(err, &shortfall) && errors.Is(err, evento.ErrRoomsHeld):
		// Not sold out: a client told so would stop, and the rooms come
		// back when the soonest hold expires, or sooner if released.
		return &Error{Status: http.StatusConflict, Code: CodeRoomsHeld, Message: shortfall.Error(),
			RetryAfter: secondsUntil(shortfall.HeldUntil)}
	case errors.As(err, &shortfall) && errors.Is(err, evento.ErrSoldOut):
		return &Error{Status: http.StatusConflict, Code: CodeSoldOut, Message: shortfall.Error()}
	case errors.As(err, &shortfall):
		return &Error{Status: http.StatusConflict, Code: CodeInsufficientRooms, Message: shortfall.Error()}
	case errors.As(err, &holdLimit):
		return &Error{Status: http.StatusTooManyRequests, Code: CodeHoldLimit, Message: holdLimit.Error()}
	case errors.Is(err, evento.ErrUnauthenticated):
		return errUnauthenticated
	case errors.As(err, &notFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: notFound.Error()}
	case errors.Is(err, evento.ErrUnknownMode):
		return &Error{Status: http.StatusBadRequest, Code: CodeUnknownMode, Message: err.Error()}
	case errors.Is(err, evento.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "not found"}
	case errors.Is(err, evento.ErrHoldExpired):
		return &Error{Status: http.StatusConflict, Code: CodeHoldExpired, Message: "the hold expired; its rooms went back to the pool"}
	case errors.Is(err, evento.ErrHoldReleased):
		return &Error{Status: http.StatusConflict, Code: CodeHoldReleased, Message: "the hold was released; its rooms went back to the pool"}
	case errors.Is(err, evento.ErrHoldConfirmed):
		return &Error{Status: http.StatusConflict, Code: CodeHoldConfirmed, Message: "the hold is confirmed: it is a reservation now"}
	case errors.Is(err, evento.ErrKeyReused):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeIdempotencyKeyReused,
			Message: "this Idempotency-Key was first used for a different request; use a new key for a new request"}
	case errors.Is(err, evento.ErrRequestInProgress):
		return &Error{Status: http.StatusConflict, Code: CodeRequestInProgress,
			Message: "a request with this Idempotency-Key is still in progress; retry shortly"}
	case errors.Is(err, evento.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "a concurrent reservation changed the hotel's rooms first; retry"}
	case errors.Is(err, evento.ErrOutcomeUnknown):
		return &Error{Status: http.StatusGatewayTimeout, Code: CodeOutcomeUnknown,
			Message: "the database did not confirm the write in time: it may or may not have been made; retry with the same Idempotency-Key, or check before retrying"}
	case errors.Is(err, evento.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the database is unavailable or did not answer in time; retry later"}
	default:
		return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
	}
}

// writeError answers with the error's JSON body and logs what the client
// does not get to see.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody is left to answer.
		s.log.Debug("client gone", "method", clip(r.Method), "path", clip(r.URL.Path), "err", err)
		return
	}
	apiErr := toAPIError(err)
	attrs := []any{"method", clip(r.Method), "path", clip(r.URL.Path)}
	if key := r.Header.Get(IdempotencyKeyHeader); key != "" {
		// Whoever holds a key gets its stored answer: log only its hash.
		attrs = append(attrs, "key_hash", evento.ShortHash(key))
	}
	if apiErr.Status >= 500 {
		s.log.Error("request failed", append(attrs, "status", apiErr.Status, "err", err)...)
	} else {
		s.log.Debug("request refused", append(attrs, "code", apiErr.Code, "err", err)...)
	}
	recordCode(w, apiErr.Code)
	switch {
	case apiErr.RetryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(apiErr.RetryAfter))
	case apiErr.Status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	case apiErr.Status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="evento"`)
	}
	writeJSON(w, apiErr.Status, apiErr.body(), s.log)
}

// secondsUntil is a Retry-After for t: whole seconds, at least 1.
func secondsUntil(t time.Time) int {
	return max(int(math.Ceil(time.Until(t).Seconds())), 1)
}
