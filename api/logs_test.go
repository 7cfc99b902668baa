package api_test

import (
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/api"
)

// An Idempotency-Key is a bearer capability (whoever has it gets the
// stored answer), so the log names it only by a short hash that lets an
// operator match lines without being able to replay anything.
func TestLogsNameIdempotencyKeysOnlyByHash(t *testing.T) {
	t.Parallel()
	// A file: the server's goroutines write to it while the test reads.
	logs, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logs.Close() })
	f := newFixture(t, 2, api.Options{
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	const key = "k-7c1f0e9d-secret-capability"
	keyed := http.Header{"Idempotency-Key": {key}}
	reserve := f.reservePath(0, "atomic")
	f.send(t, "POST", reserve, `{"name":"a","rooms":2}`, keyed) // booked
	f.send(t, "POST", reserve, `{"name":"a","rooms":2}`, keyed) // replayed
	f.send(t, "POST", reserve, `{"name":"b","rooms":2}`, keyed) // key reused: 422
	f.send(t, "POST", reserve, `{"name":"\u200b","rooms":2}`, keyed)
	f.send(t, "POST", f.reservePath(1, "atomic"), `{"name":"c","rooms":3}`, http.Header{"Idempotency-Key": {key + "-2"}})

	raw, err := os.ReadFile(logs.Name())
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if strings.Contains(text, "secret-capability") {
		t.Fatalf("the log holds an Idempotency-Key:\n%s", text)
	}
	if hash := evento.ShortHash(key); !strings.Contains(text, hash) {
		t.Fatalf("the log does not name the key by its hash %s:\n%s", hash, text)
	}
	if len(evento.ShortHash(key)) != 8 || evento.ShortHash(key) == evento.ShortHash(key+"-2") {
		t.Fatalf("ShortHash(%q) = %q", key, evento.ShortHash(key))
	}
}
