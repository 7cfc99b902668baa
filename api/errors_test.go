package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/evento-lab/evento"
)

// The mapping from domain errors to statuses and codes, for the errors an
// end-to-end test cannot produce on demand (a lost optimistic race, a
// deadline in the middle of a query, a bug).
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("reserve: %w", evento.ErrConflict), http.StatusConflict, evento.ErrConflict.Code},
		{fmt.Errorf("reserve: %w", &evento.ShortfallError{Available: 0, Requested: 2}), http.StatusConflict, evento.ErrSoldOut.Code},
		{fmt.Errorf("reserve: %w", &evento.ShortfallError{Available: 1, Requested: 2}), http.StatusConflict, evento.ErrInsufficientRooms.Code},
		{fmt.Errorf("event 3: %w", evento.ErrNotFound), http.StatusNotFound, evento.ErrNotFound.Code},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, evento.ErrUnavailable.Code},
		{errors.New("boom"), http.StatusInternalServerError, evento.ErrInternal.Code},
	}
	for _, c := range cases {
		got := toAPIError(c.err)
		if got.Status != c.status || got.Code != c.code {
			t.Errorf("%v -> %d %s, want %d %s", c.err, got.Status, got.Code, c.status, c.code)
		}
		if c.code == evento.ErrInternal.Code && got.Message != "internal error" {
			t.Errorf("internal details leak to the client: %q", got.Message)
		}
	}
}

// Every domain error is answered with its own status and code, also
// wrapped in "outcome unknown" (a write's error path) when it comes first
// in evento.Errors, as the refusals and the hold limit do.
func TestEveryDomainErrorHasItsAnswer(t *testing.T) {
	t.Parallel()
	all := evento.Errors()
	for i, e := range all {
		cases := []error{fmt.Errorf("context: %w", e)}
		if i < slices.Index(all, evento.ErrOutcomeUnknown) {
			cases = append(cases, fmt.Errorf("%w: %w", evento.ErrOutcomeUnknown, e))
		}
		for _, err := range cases {
			if got := toAPIError(err); got.Status != e.Status || got.Code != e.Code || got.Message == "" {
				t.Errorf("%v -> %d %s %q, want %d %s", err, got.Status, got.Code, got.Message, e.Status, e.Code)
			}
		}
	}
	held := &evento.ShortfallError{Requested: 2, Held: 2, HeldUntil: time.Now().Add(90 * time.Second)}
	if got := toAPIError(fmt.Errorf("hold: %w", held)); got.Code != evento.ErrRoomsHeld.Code || got.RetryAfter < 89 || got.Message != held.Error() {
		t.Errorf("%v -> %+v, want rooms_held, its message and a Retry-After of 90 s", held, got)
	}
}
