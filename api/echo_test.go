package api_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/evento-lab/evento/api"
)

// An error message echoes at most 100 characters of what the client sent,
// however much it sent: a 1 MB path must not come back as a 1 MB answer
// (or a 1 MB log line).
func TestErrorsEchoAtMost100CharactersOfInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	long := strings.Repeat("x", 5000)
	hotel := f.hotels[0].HotelID
	cases := []refusal{
		{"unknown endpoint", "GET", "/" + long + "/a/b/c/d", "", 404, "not_found"},
		{"event id", "GET", "/" + long + "/available", "", 400, "invalid_request"},
		{"hotel id", "GET", fmt.Sprintf("/%d/%s/available", f.eventID, long), "", 400, "invalid_request"},
		{"mode", "POST", f.reservePath(0, long), `{"name":"a","rooms":1}`, 400, "unknown_mode"},
		{"unknown field", "POST", f.reservePath(0, "atomic"), `{"name":"a","rooms":1,"` + long[:3000] + `":1}`, 400, "invalid_request"},
		{"method", strings.Repeat("X", 3000), fmt.Sprintf("/%d/available", f.eventID), "", 405, "method_not_allowed"},
		{"multibyte", "GET", "/" + strings.Repeat("é", 3000) + "/available", "", 400, "invalid_request"},
	}
	f.assertRefused(t, cases)
	for _, c := range cases {
		r := f.do(t, c.method, c.path, c.body)
		msg := errorMessage(t, r)
		if longestRun(msg) > 100 || !strings.Contains(msg, "…") || utf8.RuneCountInString(msg) > 250 {
			t.Errorf("%s: message echoes too much (%d characters, a run of %d): %.300s",
				c.name, utf8.RuneCountInString(msg), longestRun(msg), msg)
		}
	}
	// A hold handle is a secret: a wrong one, however long, is not echoed
	// at all, and answers as a missing hold does.
	if r := f.do(t, "GET", fmt.Sprintf("/%d/%d/holds/%s", f.eventID, hotel, long), ""); r.status != 404 || strings.Contains(r.raw, long[:20]) {
		t.Errorf("a long hold id: %d %.300s", r.status, r.raw)
	}
	// Short input is echoed whole, with no mark.
	r := f.do(t, "POST", f.reservePath(0, "yolo"), `{"name":"a","rooms":1}`)
	if msg := errorMessage(t, r); !strings.Contains(msg, `"yolo"`) || strings.Contains(msg, "…") {
		t.Errorf("short input: %s", msg)
	}
}

// longestRun is the length of the longest run of one repeated rune.
func longestRun(s string) int {
	longest, run := 0, 0
	var prev rune = -1
	for _, r := range s {
		if r == prev {
			run++
		} else {
			run = 1
		}
		prev = r
		longest = max(longest, run)
	}
	return longest
}
