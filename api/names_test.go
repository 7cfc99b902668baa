package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/evento-lab/evento/api"
)

// A name is what a clerk reads on a booking: text that is valid UTF-8 and
// visible, with nothing that reorders or hides what surrounds it.
func TestNamesMustBeVisibleText(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	var cases []refusal
	for _, path := range []string{f.reservePath(0, "atomic"), f.holdsPath(0)} {
		for _, c := range []struct{ name, body string }{
			{"invalid UTF-8", "{\"name\":\"a\xffb\",\"rooms\":1}"},
			{"invalid UTF-8 outside the name", "{\"name\":\"ab\",\"rooms\":1}\xc0"},
			{"truncated UTF-8 sequence", "{\"name\":\"caf\xc3\",\"rooms\":1}"},
			{"lone surrogate escape", `{"name":"a\ud800b","rooms":1}`},
			{"right-to-left override", `{"name":"alice\u202egnp.exe","rooms":1}`},
			{"zero-width space alone", `{"name":"\u200b","rooms":1}`},
			{"zero-width space inside", `{"name":"al\u200bice","rooms":1}`},
			{"byte order mark", `{"name":"\ufeffalice","rooms":1}`},
			{"soft hyphen", `{"name":"al\u00adice","rooms":1}`},
			{"newline", `{"name":"alice\nbob","rooms":1}`},
			{"DEL", `{"name":"alice\u007f","rooms":1}`},
			{"C1 control", `{"name":"alice\u0085","rooms":1}`},
			{"line separator", `{"name":"alice\u2028bob","rooms":1}`},
			{"no-break and em spaces only", `{"name":"\u00a0\u2003 ","rooms":1}`},
			{"Hangul filler only", `{"name":" \u3164 ","rooms":1}`},
			{"braille blank only", `{"name":"\u2800","rooms":1}`},
			{"combining mark only", `{"name":"\u0301\u0301","rooms":1}`},
		} {
			cases = append(cases, refusal{path + ": " + c.name, "POST", path, c.body, 400, "invalid_request"})
		}
	}
	f.assertRefused(t, cases)

	for _, name := range []string{"José Ñúñez", "李小龍", "O'Brien-Smith", "Zoë 🙂", "Ana María", "محمد"} {
		body := fmt.Sprintf(`{"name":%q,"rooms":1}`, name)
		r := f.do(t, "POST", f.reservePath(1, "atomic"), body)
		if r.status != http.StatusCreated || r.body["name"] != name {
			t.Errorf("name %q: %d %s", name, r.status, r.raw)
		}
	}
}

// The refusal says what is wrong in words a client can act on.
func TestNameRefusalsSayWhy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	for body, want := range map[string]string{
		"{\"name\":\"a\xffb\",\"rooms\":1}": "UTF-8",
		`{"name":"a\u202eb","rooms":1}`:     "U+202E",
		`{"name":"\u200b","rooms":1}`:       "U+200B",
		`{"name":" \u3164 ","rooms":1}`:     "visible",
		`{"name":"a\ud800b","rooms":1}`:     "U+FFFD",
	} {
		r := f.do(t, "POST", f.reservePath(0, "atomic"), body)
		if errorCode(t, r) != "invalid_request" || !strings.Contains(errorMessage(t, r), want) {
			t.Errorf("%q: %s; want a message that says %q", body, r.raw, want)
		}
	}
}
