package api

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/evento-lab/evento"
)

// Error is an error with a status and code meant for the client, a domain
// error's (newError). Its message is safe to show; internal details stay
// in the server's log.
type Error struct {
	Status int
	Code   string
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int
	Message    string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// newError answers with known's code and status, in words for the client.
func newError(known *evento.Error, message string) *Error {
	return &Error{Status: known.Status, Code: known.Code, Message: message}
}

// body is the JSON every error answers with.
func (e *Error) body() errorBody {
	return errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}}
}

func invalid(message string) *Error {
	return newError(evento.ErrInvalidRequest, message)
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// messages tell the client what a domain error without facts of its own
// means for it, and what to do; one not listed is answered in its own
// words (its Error).
var messages = map[*evento.Error]string{
	evento.ErrNotFound:          "not found",
	evento.ErrHoldExpired:       "the hold expired; its rooms went back to the pool",
	evento.ErrHoldReleased:      "the hold was released; its rooms went back to the pool",
	evento.ErrHoldConfirmed:     "the hold is confirmed: it is a reservation now",
	evento.ErrKeyReused:         "this Idempotency-Key was first used for a different request; use a new key for a new request",
	evento.ErrRequestInProgress: "a request with this Idempotency-Key is still in progress; retry shortly",
	evento.ErrConflict:          "a concurrent reservation changed the hotel's rooms first; retry",
	evento.ErrOutcomeUnknown:    "the database did not confirm the write in time: it may or may not have been made; retry with the same Idempotency-Key, or check before retrying",
	evento.ErrUnavailable:       "the database is unavailable or did not answer in time; retry later",
}

// toAPIError maps every error a handler can meet to what the client sees:
// the status and code of the first domain error it matches (evento.ErrorOf),
// a deadline as the database unavailable, anything else as a bug. This is
// the one place where domain errors become HTTP statuses.
func toAPIError(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	known := evento.ErrorOf(err)
	switch {
	case known == evento.ErrUnauthenticated:
		return errUnauthenticated
	case known == nil && errors.Is(err, context.DeadlineExceeded):
		known = evento.ErrUnavailable
	case known == nil:
		return newError(evento.ErrInternal, evento.ErrInternal.Error())
	}
	answer := newError(known, messages[known])
	// An error that carries facts tells them, when they are the facts of
	// the answer given.
	var shortfall *evento.ShortfallError
	var holdLimit *evento.HoldLimitError
	var clientLimit *evento.ClientLimitError
	var cooldown *evento.HoldCooldownError
	var notFound *evento.NotFoundError
	switch {
	case errors.As(err, &shortfall) && errors.Is(shortfall, known):
		answer.Message = shortfall.Error()
		if known == evento.ErrRoomsHeld {
			// Not sold out: a client told so would stop, and the rooms
			// it lacks are back when the last of them comes out of its
			// hold, in order of expiry, or sooner if released.
			answer.RetryAfter = secondsUntil(shortfall.HeldUntil)
		}
	case errors.As(err, &holdLimit) && errors.Is(holdLimit, known):
		answer.Message = holdLimit.Error()
	case errors.As(err, &clientLimit) && errors.Is(clientLimit, known):
		answer.Message = clientLimit.Error() + "; cancelling a reservation or releasing a hold at the event frees its rooms"
	case errors.As(err, &cooldown) && errors.Is(cooldown, known):
		answer.Message = cooldown.Error()
		answer.RetryAfter = secondsUntil(cooldown.Until)
	case errors.As(err, &notFound) && errors.Is(notFound, known):
		answer.Message = notFound.Error()
	case known == evento.ErrUnknownMode:
		answer.Message = err.Error()
	case answer.Message == "":
		answer.Message = known.Error()
	}
	return answer
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
	level := slog.LevelDebug
	if apiErr.Status >= 500 {
		level = slog.LevelError
	}
	// A refusal (a conflict, a sold-out hotel) is an ordinary answer under
	// load: its line, clipped path and key hash are built only when the
	// line is written.
	if s.log.Enabled(r.Context(), level) {
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
