package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

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
		{fmt.Errorf("reserve: %w", evento.ErrConflict), http.StatusConflict, CodeConflict},
		{fmt.Errorf("reserve: %w", &evento.ShortfallError{Available: 0, Requested: 2}), http.StatusConflict, CodeSoldOut},
		{fmt.Errorf("reserve: %w", &evento.ShortfallError{Available: 1, Requested: 2}), http.StatusConflict, CodeInsufficientRooms},
		{fmt.Errorf("event 3: %w", evento.ErrNotFound), http.StatusNotFound, CodeNotFound},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, CodeUnavailable},
		{errors.New("boom"), http.StatusInternalServerError, CodeInternal},
	}
	for _, c := range cases {
		got := toAPIError(c.err)
		if got.Status != c.status || got.Code != c.code {
			t.Errorf("%v -> %d %s, want %d %s", c.err, got.Status, got.Code, c.status, c.code)
		}
		if c.code == CodeInternal && got.Message != "internal error" {
			t.Errorf("internal details leak to the client: %q", got.Message)
		}
	}
}
