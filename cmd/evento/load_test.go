package main

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/cluster"
)

// evento load drives servers that were started on their own, verifying
// through the API alone, or through the database when DATABASE_URL is given.
func TestLoadAgainstRunningServers(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	seeded := runEvento(t, bundle.env, "seed", "--hotels", "2", "--rooms", "15", "--json")
	if seeded.exit != 0 {
		t.Fatalf("seed: exit %d: %s", seeded.exit, seeded.stderr)
	}
	var event struct {
		EventID int64 `json:"event_id"`
		Hotels  []struct {
			HotelID int64  `json:"hotel_id"`
			Name    string `json:"name"`
			Rooms   int64  `json:"rooms"`
		} `json:"hotels"`
	}
	if err := json.Unmarshal([]byte(seeded.stdout), &event); err != nil || len(event.Hotels) != 2 || event.Hotels[0].Rooms != 15 {
		t.Fatalf("seed --json printed %q (%v)", seeded.stdout, err)
	}

	servers, err := cluster.StartServers(context.Background(), cluster.ServerSpec{Executable: evento, DatabaseURL: bundle.url}, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.StopServers(servers) })
	targets := servers[0].URL + "," + servers[1].URL

	first := runEvento(t, []string{"DATABASE_URL="}, "load", "--target", targets, "--event", itoa(event.EventID),
		"--clients", "30", "--strategy", "atomic", "--think", "0", "--json", "--expect", "consistent")
	if first.exit != 0 {
		t.Fatalf("load: exit %d\n%s\n%s", first.exit, first.stdout, first.stderr)
	}
	report := decodeReport(t, first)
	if report.VerifiedBy != "api" || report.Totals.Reserved != 30 || report.Totals.Acknowledged != 30 || report.Servers != 2 {
		t.Fatalf("API-verified report: %+v", report)
	}
	if !containsAll(report.Notes, "verified through the API only") {
		t.Fatalf("notes do not say the check was API-only: %q", report.Notes)
	}

	// Sold out already: a second load, verified through the database, books
	// nothing, judges only its own clients, and says the event was not fresh.
	second := runEvento(t, bundle.env, "load", "--target", targets, "--event", itoa(event.EventID),
		"--clients", "5", "--strategy", "atomic", "--think", "0", "--json")
	report = decodeReport(t, second)
	if second.exit != 0 || report.VerifiedBy != "database" || report.Verdict != checker.Consistent ||
		report.Requests.Success != 0 || report.Totals.Booked != 30 {
		t.Fatalf("second load: %+v", report)
	}
	if !containsAll(report.Notes, "already had 30 rooms booked") {
		t.Fatalf("notes: %q", report.Notes)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
