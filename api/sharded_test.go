package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db/labdb"
)

// A hotel split into buckets: availability adds the buckets up; every mode
// but sharded, and a hold, is told inventory_sharded (not sold_out) and
// changes nothing; sharded books it to the last room.
func TestShardedHotelOverHTTP(t *testing.T) {
	t.Parallel()
	f := newFixtureOf(t, labdb.SeedSpec{Name: "split", Hotels: 1, Rooms: 5, Buckets: 2}, api.Options{})
	available := fmt.Sprintf("/%d/%d/available", f.eventID, f.hotels[0].HotelID)
	if r := f.do(t, "GET", available, ""); r.status != http.StatusOK || r.body["available"] != 5.0 || r.body["assigned"] != 5.0 {
		t.Fatalf("availability of a split hotel: %d %s; want 5 of 5", r.status, r.raw)
	}
	var refused []refusal
	for _, mode := range []string{"pessimistic", "atomic", "optimistic", "serializable", "advisory", "batched"} {
		refused = append(refused, refusal{mode, "POST", f.reservePath(0, mode), `{"name":"a","rooms":1}`, http.StatusConflict, "inventory_sharded"})
	}
	refused = append(refused, refusal{"hold", "POST", f.holdsPath(0), `{"name":"a","rooms":1,"ttl_seconds":60}`, http.StatusConflict, "inventory_sharded"})
	f.assertRefused(t, refused)

	for _, step := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"name":"a","rooms":3}`, http.StatusCreated, ""}, // across both buckets (3 and 2)
		{`{"name":"b","rooms":3}`, http.StatusConflict, "insufficient_rooms"},
		{`{"name":"c","rooms":2}`, http.StatusCreated, ""},
		{`{"name":"d","rooms":1}`, http.StatusConflict, "sold_out"},
	} {
		r := f.do(t, "POST", f.reservePath(0, "sharded"), step.body)
		if r.status != step.status || (step.code != "" && errorCode(t, r) != step.code) {
			t.Fatalf("sharded %s: %d %s; want %d %s", step.body, r.status, r.raw, step.status, step.code)
		}
	}
	if r := f.do(t, "GET", available, ""); r.body["available"] != 0.0 || r.body["reserved"] != 5.0 {
		t.Fatalf("availability once sold out: %s", r.raw)
	}
}
