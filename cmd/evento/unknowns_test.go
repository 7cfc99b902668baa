package main

import (
	"strings"
	"testing"

	"github.com/evento-lab/evento/lab/checker"
)

// Issue 21's 74 unknowns, small: every booking takes 30ms on the server
// (--race-window), the clients wait 20ms and their retry budget is 10ms, so
// bookings end unknown, their answers lost, some of them booked. The lab
// started the servers, so once they have settled no request of the run can
// commit any more: the database settles every unknown from its key (a
// booking stored under it, or none), and the report is exact, with no
// "anything from … to …" window.
func TestRunResolvesUnknownsFromTheirKeys(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	r := decodeReport(t, runEvento(t, bundle.env, "run", "--clients", "30", "--strategy", "pessimistic",
		"--rooms", "30", "--hotels", "1", "--servers", "2", "--think", "0", "--race-window", "30ms",
		"--client-timeout", "20ms", "--retry-budget", "10ms", "--json"), 0)
	u := r.Unknown
	if u.ResolvedBooked == 0 {
		t.Fatalf("unknown %+v: no unknown booking was settled as booked, so the test proved nothing", u)
	}
	if u.Requests != 0 || u.Rooms != 0 || u.Why != "" {
		t.Fatalf("unknown %+v: want every unknown settled from its key", u)
	}
	if r.Verdict == checker.Overbooked || r.Verdict == checker.Inconsistent || r.Totals.Booked != 30 {
		t.Fatalf("verdict %s, totals %+v, anomalies %q", r.Verdict, r.Totals, r.Anomalies)
	}
	for _, note := range r.Notes {
		if strings.Contains(note, "accepts anything from") {
			t.Fatalf("the verdict is still charitable: %q", note)
		}
	}
	if !containsAll(r.Notes, "their keys in the database settled them") {
		t.Fatalf("the report does not say the database settled them: %q", r.Notes)
	}
	var reservations int64
	scanRow(t, bundle.url, `SELECT count(*) FROM reservations r JOIN event_hotel_rooms ehr ON ehr.id = r.event_hotel_rooms_id
		WHERE ehr.event_id = $1`, []any{r.EventIDs[0]}, &reservations)
	if reservations != r.Requests.Success+u.ResolvedBooked {
		t.Fatalf("database holds %d reservations; the report %d acknowledged and %d settled as booked",
			reservations, r.Requests.Success, u.ResolvedBooked)
	}
}
