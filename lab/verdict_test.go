package lab

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/report"
)

// serveEvento serves the real API on pool over real HTTP until the test ends.
func serveEvento(t *testing.T, pool *pgxpool.Pool) *url.URL {
	t.Helper()
	server := httptest.NewServer(api.NewServer(db.NewStore(pool, db.Options{}),
		api.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(server.Close)
	u, err := url.Parse(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A 500 is a bug the rooms do not show: a run whose servers answered 500
// (internal) to a few reads and one booking, that booked nothing for them,
// is not called consistent. The 500s come from a handler in front of a real
// server, which answers as Evento does for an unclassified error, and passes
// everything else through.
func TestServerErrorsMakeTheirOwnVerdict(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 10)
	event, err := labdb.Seed(t.Context(), pool, labdb.SeedSpec{Name: "500s", Hotels: 1, Rooms: 20})
	if err != nil {
		t.Fatal(err)
	}
	evento := httputil.NewSingleHostReverseProxy(serveEvento(t, pool))
	var reads, bookings atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The 2nd and 3rd hotel reads and the 2nd booking fail; the event
		// read that starts the load (/{e}/available) is not a hotel's.
		hotelRead := r.Method == http.MethodGet && strings.Count(r.URL.Path, "/") == 3 && strings.HasSuffix(r.URL.Path, "/available")
		booking := r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/reserve/")
		if (hotelRead && (reads.Add(1) == 2 || reads.Load() == 3)) || (booking && bookings.Add(1) == 2) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":{"code":"internal","message":"internal error"}}`)
			return
		}
		evento.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	r, err := Load(t.Context(), LoadConfig{
		Servers: []string{front.URL}, EventID: event.EventID, DatabaseURL: pool.Config().ConnString(),
		Clients: client.Config{Strategy: "atomic", Clients: 2, MaxRooms: 2, Seed: 1, Idempotency: true},
		Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.Internal != 3 {
		t.Errorf("requests.internal = %d, want the 3 answers that were 500", r.Requests.Internal)
	}
	if r.Verdict != checker.ServerErrors {
		t.Errorf("verdict %q, want %q; anomalies %q", r.Verdict, checker.ServerErrors, r.Anomalies)
	}
	if len(r.Anomalies) != 1 || !strings.Contains(r.Anomalies[0], "3 answers were 500") {
		t.Errorf("anomalies %q, want the server errors alone", r.Anomalies)
	}
	if !r.Completed || r.Totals.Booked != 20 {
		t.Errorf("completed %v, %d of 20 rooms booked: the errors should not have stopped the run", r.Completed, r.Totals.Booked)
	}
}

// Two keyed bookings end unknown on purpose, every attempt's answer lost
// until their retry budget runs out: one reached the real server, which
// booked it; the other never did. The load asks the database: the first is
// booked, under its key; the second has no booking there, but these servers
// are not the load's, so one might still commit it: it stays unknown, and
// the run is not called complete, nor consistent, and says why. evento
// check, judging the load's history later, resolves them the same way.
func TestLoadResolvesUnknownsFromTheirKeys(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 10)
	event, err := labdb.Seed(t.Context(), pool, labdb.SeedSpec{Name: "unknowns", Hotels: 1, Rooms: 20})
	if err != nil {
		t.Fatal(err)
	}
	evento := httputil.NewSingleHostReverseProxy(serveEvento(t, pool))
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Keys are <run>-<client>-<request>: client 0's second booking
		// books but loses its every answer, client 1's never arrives.
		key := r.Header.Get("Idempotency-Key")
		booked, lost := strings.HasSuffix(key, "-0-2"), strings.HasSuffix(key, "-1-2")
		if booked {
			evento.ServeHTTP(httptest.NewRecorder(), r)
		}
		if booked || lost {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close() // the answer is lost on the way
			}
			return
		}
		evento.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	history := filepath.Join(t.TempDir(), "h.jsonl")
	f, err := os.Create(history)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load(t.Context(), LoadConfig{
		Servers: []string{front.URL}, EventID: event.EventID, DatabaseURL: pool.Config().ConnString(),
		Clients: client.Config{Strategy: "atomic", Clients: 2, MaxRooms: 2, Seed: 1, Idempotency: true,
			RetryBudget: 200 * time.Millisecond},
		Timeout: time.Minute, History: f,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// evento check, reading the load's history afterwards, asks the keys
	// the same question and gets the same answer.
	checked, err := CheckHistories(t.Context(), pool, CheckConfig{EventID: event.EventID, Paths: []string{history}})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]report.Report{"load": r, "check": checked} {
		u := r.Unknown
		if u.ResolvedBooked != 1 || u.ResolvedNotBooked != 0 || u.Requests != 1 || u.Why == "" {
			t.Fatalf("%s: unknown %+v, want 1 resolved booked from its key and 1 left, with why", name, u)
		}
		if r.Completed || r.Verdict != checker.Inconclusive || len(r.Anomalies) != 1 ||
			!strings.Contains(r.Anomalies[0], "1 keyed requests are still unknown") || !strings.Contains(r.Anomalies[0], "servers are not this run's") {
			t.Fatalf("%s: completed %v, verdict %q, anomalies %q: want incomplete and inconclusive, saying why", name, r.Completed, r.Verdict, r.Anomalies)
		}
		if r.Totals.Booked != 20 {
			t.Fatalf("%s: totals %+v: the hotel should have sold out", name, r.Totals)
		}
	}
}
