package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/evento-lab/evento"
)

// A refusal is an ordinary answer under load: with debug lines off, its
// line's fields (the clipped path, the key's hash) are never built.
func TestRefusalBuildsNoLogLineWhenDebugIsOff(t *testing.T) {
	countsAllocations(t)
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	r := httptest.NewRequest(http.MethodPost, "/1/2/reserve/batched", nil)
	r.Header.Set(IdempotencyKeyHeader, "run-1-12-345")
	w := httptest.NewRecorder()
	refusal := newError(evento.ErrConflict, "lost a race")
	quiet := testing.AllocsPerRun(100, func() { s.writeError(w, r, refusal) })
	s.log = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	logged := testing.AllocsPerRun(100, func() { s.writeError(w, r, refusal) })
	if quiet > logged-5 {
		t.Fatalf("a refusal: %.0f allocations with debug off, %.0f with it on", quiet, logged)
	}
}
