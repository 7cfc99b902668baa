package evento

import (
	"errors"
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
