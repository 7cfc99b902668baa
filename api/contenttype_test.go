package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/evento-lab/evento/api"
)

// Only JSON is accepted: a browser's cross-origin "simple" POST (a form, or
// text/plain) cannot book, hold or confirm anything.
func TestPostsMustBeJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	r := f.do(t, "POST", f.holdsPath(0), `{"name":"alice","rooms":1}`)
	if r.status != http.StatusCreated {
		t.Fatalf("place hold: %d %s", r.status, r.raw)
	}
	confirm := fmt.Sprintf("%s/%s/confirm", f.holdsPath(0), r.body["hold_id"])
	reserve := f.reservePath(0, "atomic")
	unknownEvent := fmt.Sprintf("/%d/%d/reserve/atomic", f.eventID+100, f.hotels[0].HotelID)
	body := `{"name":"a","rooms":1}`
	cases := []struct {
		name, path, body string
		contentType      []string // nil: no Content-Type header
	}{
		{"text/plain", reserve, body, []string{"text/plain"}},
		{"text/plain with charset", reserve, body, []string{"text/plain; charset=utf-8"}},
		{"form", reserve, "name=a&rooms=1", []string{"application/x-www-form-urlencoded"}},
		{"multipart", reserve, "--x\r\n\r\n--x--", []string{"multipart/form-data; boundary=x"}},
		{"no Content-Type with a body", reserve, body, nil},
		{"empty Content-Type", reserve, body, []string{""}},
		{"JSON-like type", reserve, body, []string{"application/json-patch+json"}},
		{"JSON as a parameter", reserve, body, []string{"text/plain; x=application/json"}},
		{"malformed", reserve, body, []string{"application/json; ="}},
		{"another charset", reserve, body, []string{"application/json; charset=latin1"}},
		{"two Content-Types", reserve, body, []string{"application/json", "text/plain"}},
		{"hold as text/plain", f.holdsPath(0), body, []string{"text/plain"}},
		{"confirm as text/plain without a body", confirm, "", []string{"text/plain"}},
		{"confirm as a form without a body", confirm, "", []string{"application/x-www-form-urlencoded"}},
		// Refused before the database is asked about the event.
		{"unknown event as text/plain", unknownEvent, body, []string{"text/plain"}},
	}
	before := f.dbState(t)
	for _, c := range cases {
		r := f.send(t, "POST", c.path, c.body, http.Header{"Content-Type": c.contentType})
		if r.status != http.StatusUnsupportedMediaType || errorCode(t, r) != "unsupported_media_type" {
			t.Errorf("%s: %d %s; want 415 unsupported_media_type", c.name, r.status, r.raw)
		}
		if after := f.dbState(t); after != before {
			t.Fatalf("%s: database changed: %s -> %s", c.name, before, after)
		}
	}

	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"} {
		if r := f.send(t, "POST", reserve, body, http.Header{"Content-Type": {ct}}); r.status != http.StatusCreated {
			t.Errorf("Content-Type %q: %d %s", ct, r.status, r.raw)
		}
	}
	// A bodiless POST needs no Content-Type: curl -X POST …/confirm works.
	if r := f.send(t, "POST", confirm, "", http.Header{"Content-Type": nil}); r.status != http.StatusCreated {
		t.Errorf("confirm without body or Content-Type: %d %s", r.status, r.raw)
	}
}

// The check needs no database: with none at all, a text/plain POST is still
// 415, not 503.
func TestContentTypeIsCheckedBeforeTheDatabase(t *testing.T) {
	t.Parallel()
	f := deadDatabaseFixture(t)
	r := f.send(t, "POST", f.reservePath(0, "atomic"), `{"name":"a","rooms":1}`, http.Header{"Content-Type": {"text/plain"}})
	if r.status != http.StatusUnsupportedMediaType || errorCode(t, r) != "unsupported_media_type" {
		t.Fatalf("text/plain with the database down: %d %s", r.status, r.raw)
	}
}
