package evento

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// A shortfall is "sold out" only when nothing is free and nothing is held:
// a client told so stops, and held rooms may yet come back.
func TestShortfallSaysWhatTheClientShouldDo(t *testing.T) {
	t.Parallel()
	soon := time.Now().Add(time.Minute)
	for _, c := range []struct {
		err  *ShortfallError
		want error
	}{
		{&ShortfallError{Available: 0, Requested: 2}, ErrSoldOut},
		{&ShortfallError{Available: 1, Requested: 2}, ErrInsufficientRooms},
		{&ShortfallError{Available: 0, Requested: 2, Held: 2, HeldUntil: soon}, ErrRoomsHeld},
		{&ShortfallError{Available: 0, Requested: 3, Held: 2, HeldUntil: soon}, ErrInsufficientRooms},
	} {
		for _, target := range []error{ErrSoldOut, ErrInsufficientRooms, ErrRoomsHeld} {
			if got := errors.Is(c.err, target); got != (target == c.want) {
				t.Errorf("%+v: errors.Is(%v) = %v", *c.err, target, got)
			}
		}
	}
}

// Each code names one error, and an error is answered as the first domain
// error it matches: a refusal wrapped in "outcome unknown" (a write's error
// path) is still that refusal.
func TestEachCodeNamesOneError(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, e := range Errors() {
		if e.Code == "" || seen[e.Code] {
			t.Errorf("code %q of %v is empty or taken", e.Code, e)
		}
		seen[e.Code] = true
		if got := ErrorWithCode(e.Code); got != e {
			t.Errorf("ErrorWithCode(%q) = %v, want %v", e.Code, got, e)
		}
		if got := ErrorOf(fmt.Errorf("context: %w", e)); got != e {
			t.Errorf("ErrorOf(%v) = %v", e, got)
		}
	}
	wrapped := fmt.Errorf("%w: %w", ErrOutcomeUnknown, &ShortfallError{Available: 0, Requested: 2})
	if got := ErrorOf(wrapped); got != ErrSoldOut {
		t.Errorf("ErrorOf(%v) = %v, want sold out", wrapped, got)
	}
	if ErrorOf(errors.New("boom")) != nil || ErrorWithCode("shortfall") != nil {
		t.Errorf("an error or a code that is not Evento's has a domain error")
	}
}
