package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Every JSON answer says so and forbids caching; the values are shared
// between answers, so a header added to one answer must not reach the next.
func TestJSONAnswersShareTheirHeadersSafely(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	first := httptest.NewRecorder()
	writeJSON(first, http.StatusCreated, map[string]int{"rooms": 2}, log)
	first.Header().Add("Cache-Control", "private")
	second := httptest.NewRecorder()
	writeJSON(second, http.StatusOK, map[string]int{"rooms": 1}, log)
	if got := second.Header().Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store alone", got)
	}
	if got := second.Header().Get("Content-Type"); got != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", got)
	}
	if got := second.Body.String(); got != "{\"rooms\":1}\n" {
		t.Fatalf("body %q", got)
	}
}

// bareWriter is a ResponseWriter that keeps nothing but its header map.
type bareWriter struct{ h http.Header }

func (b bareWriter) Header() http.Header         { return b.h }
func (b bareWriter) Write(p []byte) (int, error) { return len(p), nil }
func (b bareWriter) WriteHeader(int)             {}

// An answer's two headers cost no allocation each: they are assigned,
// not parsed, canonicalized and copied.
func TestJSONAnswerHeadersCostNoAllocation(t *testing.T) {
	countsAllocations(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := bareWriter{h: http.Header{}}
	body := struct{}{}
	allocs := testing.AllocsPerRun(100, func() { writeJSON(w, http.StatusOK, body, log) })
	// The json.Encoder is the one allocation left.
	if allocs > 1 {
		t.Fatalf("writeJSON: %.0f allocations, want at most 1", allocs)
	}
}
