package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/lab/cluster"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 4)
	event, err := labdb.Seed(context.Background(), pool, labdb.SeedSpec{Name: "m", Hotels: 1, Rooms: 3})
	if err != nil {
		t.Fatal(err)
	}
	metrics := api.NewMetrics(db.PoolCollector(pool))
	handler := api.NewServer(db.NewStore(pool, db.Options{}), api.Options{
		Metrics: metrics, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	admin := httptest.NewServer(handler.AdminHandler())
	t.Cleanup(admin.Close)
	f := &fixture{pool: pool, server: server, eventID: event.EventID, hotels: event.Hotels}
	f.do(t, "POST", f.reservePath(0, "atomic"), `{"name":"a","rooms":3}`)
	f.do(t, "POST", f.reservePath(0, "atomic"), `{"name":"b","rooms":1}`)
	f.do(t, "POST", f.reservePath(0, "nope"), `{"name":"b","rooms":1}`)
	// A keyed refusal, and its resend (answered afresh), count as what they are.
	keyed := http.Header{"Idempotency-Key": {"m-1"}}
	f.send(t, "POST", f.reservePath(0, "atomic"), `{"name":"c","rooms":1}`, keyed)
	f.send(t, "POST", f.reservePath(0, "atomic"), `{"name":"c","rooms":1}`, keyed)
	metrics.Rerun("serializable")

	// The public port keeps them to itself.
	if r := f.do(t, "GET", "/metrics", ""); r.status != http.StatusNotFound || errorCode(t, r) != "not_found" {
		t.Fatalf("GET /metrics on the public port: %d %.200s", r.status, r.raw)
	}
	if resp, err := admin.Client().Get(admin.URL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz on the admin port: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	resp, err := admin.Client().Get(admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text := readAll(t, resp)
	for _, want := range []string{
		`evento_requests_total{code="ok",mode="atomic",route="POST /{event_id}/{hotel_id}/reserve/{mode}"} 1`,
		`evento_requests_total{code="sold_out",mode="atomic",route="POST /{event_id}/{hotel_id}/reserve/{mode}"} 3`,
		`evento_requests_total{code="unknown_mode",mode="unknown",route="POST /{event_id}/{hotel_id}/reserve/{mode}"} 1`,
		`evento_request_duration_seconds_count{mode="atomic",route="POST /{event_id}/{hotel_id}/reserve/{mode}"} 4`,
		`evento_transaction_reruns_total{strategy="serializable"} 1`,
		`evento_pool_max_connections 4`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The lab's runs read the reruns back by the metric's name.
	stats, err := cluster.ScrapeServerStats(context.Background(), []string{admin.URL})
	if err != nil || stats.Reruns != 1 {
		t.Fatalf("the lab scraped %+v, %v; want the 1 rerun", stats, err)
	}
}
