package db

import (
	"errors"
	"testing"

	"github.com/evento-lab/evento"
)

// A refusal a key stored, when keys still kept refusals (a server of an
// older release may write one during a rolling upgrade), reads back as the
// refusal it was: the stored codes are a contract, like the API's, since
// rows outlive the server that wrote them. A failure's code is never read
// as a refusal, and no refusal is encoded any more.
func TestStoredRefusalsStayReadable(t *testing.T) {
	t.Parallel()
	for stored, want := range map[string]error{
		`{"refusal":{"code":"hold_expired"}}`:                          evento.ErrHoldExpired,
		`{"refusal":{"code":"hold_released"}}`:                         evento.ErrHoldReleased,
		`{"refusal":{"code":"hold_confirmed"}}`:                        evento.ErrHoldConfirmed,
		`{"refusal":{"code":"not_found","what":"event 1 hotel 2"}}`:    evento.ErrNotFound,
		`{"refusal":{"code":"shortfall","available":1,"requested":2}}`: evento.ErrInsufficientRooms,
		`{"refusal":{"code":"shortfall","requested":2,"bucketed":3}}`:  evento.ErrInventorySharded,
		`{"refusal":{"code":"shortfall","requested":2}}`:               evento.ErrSoldOut,
	} {
		o, err := decodeOutcome[evento.Booking]([]byte(stored))
		if err != nil || !errors.Is(o.Refusal, want) {
			t.Errorf("%s reads as %v, %v; want %v", stored, o.Refusal, err, want)
			continue
		}
		if again, err := encodeOutcome(o); err == nil {
			t.Errorf("%s encodes again as %s", stored, again)
		}
	}
	for _, code := range []string{"conflict", "unavailable", "outcome_unknown", "no_such_code"} {
		if o, err := decodeOutcome[evento.Booking]([]byte(`{"refusal":{"code":"` + code + `"}}`)); err == nil {
			t.Errorf("a stored %q reads as %v", code, o.Refusal)
		}
	}
}
