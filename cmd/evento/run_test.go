package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/report"
)

// The brief's experiment, end to end, for each safe strategy: 2 server
// processes, 60 clients with no think time, two 20-room hotels. Each must
// end consistent with both hotels sold out, and the report's numbers must
// be what the database holds.
func TestRunSafeStrategiesEndConsistentAndSoldOut(t *testing.T) {
	t.Parallel()
	for _, s := range db.Strategies {
		if !s.Safe {
			continue
		}
		strategy := s.Name
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			bundle := setup(t)
			r := runEvento(t, bundle.env,
				"--clients", "60", "--strategy", strategy, "--rooms", "20", "--hotels", "2",
				"--servers", "2", "--think", "0", "--seed", "7", "--json", "--expect", "consistent")
			report := decodeReport(t, r, 0)
			if report.Verdict != checker.Consistent || len(report.Anomalies) != 0 {
				t.Fatalf("verdict %s, anomalies %q", report.Verdict, report.Anomalies)
			}
			if report.Strategy != strategy || report.Clients != 60 || report.Servers != 2 || report.Seed != 7 || !report.Completed {
				t.Fatalf("report header: %+v", report)
			}
			if len(report.Hotels) != 2 || report.SelloutSeconds == nil {
				t.Fatalf("want 2 hotels sold out: %+v", report.Hotels)
			}
			for _, h := range report.Hotels {
				if !h.SoldOut || h.Booked != 20 || h.Reserved != 20 || h.Acknowledged != 20 || h.Verdict != checker.Consistent {
					t.Fatalf("hotel %+v: want 20 of 20 booked, acknowledged and consistent", h)
				}
			}
			if report.Requests.Success == 0 || report.LatencyMs.P50 <= 0 || report.LatencyMs.Max < report.LatencyMs.P99 {
				t.Fatalf("requests %+v latency %+v", report.Requests, report.LatencyMs)
			}
			assertReportMatchesDatabase(t, bundle.url, report)
		})
	}
}

// assertReportMatchesDatabase re-reads the database independently of the
// code that built the report.
func assertReportMatchesDatabase(t *testing.T, url string, report report.Report) {
	t.Helper()
	var reservations int64
	for _, h := range report.Hotels {
		var assigned, reserved, booked, count int64
		// A sharded hotel's counters are its row's plus its buckets'.
		scanRow(t, url, `
			SELECT ehr.assigned + (SELECT coalesce(sum(assigned), 0) FROM room_buckets WHERE event_hotel_rooms_id = ehr.id),
			       ehr.reserved + (SELECT coalesce(sum(reserved), 0) FROM room_buckets WHERE event_hotel_rooms_id = ehr.id),
			       coalesce(sum(r.number), 0), count(r.id)
			FROM event_hotel_rooms ehr LEFT JOIN reservations r ON r.event_hotel_rooms_id = ehr.id
			WHERE ehr.event_id = $1 AND ehr.hotel_id = $2 GROUP BY ehr.id`, []any{h.EventID, h.HotelID},
			&assigned, &reserved, &booked, &count)
		if assigned != h.Assigned || reserved != h.Reserved || booked != h.Booked {
			t.Fatalf("hotel %d: report says assigned %d reserved %d booked %d; database %d %d %d",
				h.HotelID, h.Assigned, h.Reserved, h.Booked, assigned, reserved, booked)
		}
		reservations += count
	}
	if reservations != report.Requests.Success {
		t.Fatalf("report counts %d successful reserves; database holds %d reservations", report.Requests.Success, reservations)
	}
}

// The naive strategy is caught by the verdict. --race-window stretches the
// gap between its read and its write to 30ms, so 60 clients starting at once
// overlap on every run; the step-by-step proof is in db's interleaving tests.
func TestRunCatchesNaiveOverbooking(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	r := runEvento(t, bundle.env,
		"--clients", "60", "--strategy", "naive", "--rooms", "20", "--hotels", "1",
		"--servers", "2", "--think", "0", "--race-window", "30ms", "--json", "--expect", "consistent")
	report := decodeReport(t, r, 1) // 1: the verdict was not as expected
	h := report.Hotels[0]
	if report.Verdict != checker.Overbooked || h.Booked <= h.Assigned || h.Reserved == h.Booked {
		t.Fatalf("verdict %s, hotel %+v: want overbooked by a lost update", report.Verdict, h)
	}
	if !containsAll(report.Anomalies, "overbooked", fmt.Sprintf("lost update: at hotel %d (event %d) the counter says %d but %d rooms are booked", h.HotelID, h.EventID, h.Reserved, h.Booked)) {
		t.Fatalf("anomalies do not name the overbooking and the lost update: %q", report.Anomalies)
	}
	if !strings.Contains(r.stderr, "verdict overbooked, expected consistent") {
		t.Fatalf("stderr does not say why it exited 1: %s", r.stderr)
	}
	assertReportMatchesDatabase(t, bundle.url, report)
}

func containsAll(lines []string, wants ...string) bool {
	joined := strings.Join(lines, "\n")
	for _, w := range wants {
		if !strings.Contains(joined, w) {
			return false
		}
	}
	return true
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	t.Parallel()
	// Each is one line; some must also name the flag, the value and what is allowed.
	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"--strategy", "yolo"}, []string{"naive, pessimistic, atomic, optimistic"}},
		{[]string{"--think", "fast"}, nil},
		{[]string{"--clients", "0"}, nil},
		{[]string{"--expect", "perfect"}, nil},
		{[]string{"bogus-subcommand"}, nil},
		{[]string{"load", "--event", "1"}, nil},
		{[]string{"--client-timeout", "0"}, nil},
		{[]string{"--retry-budget", "0s"}, nil},
		{[]string{"--faults", "meteor"}, nil},
		{[]string{"--fault-every", "0s"}, nil},
		{[]string{"--hold-ttl", "1500ms"}, nil},
		{[]string{"compare", "--strategy", "atomic"}, nil},
		{[]string{"compare", "--expect", "consistent"}, nil},
		{[]string{"serve", "--addr", "8080"}, []string{`--addr "8080"`, "HOST:PORT", "127.0.0.1:8080"}},
		{[]string{"serve", "--modes", "naive,yolo"}, []string{"--modes", `"yolo"`, "all", "naive, pessimistic, atomic"}},
		{[]string{"serve", "--auth", "password"}, nil},
		// A key must outlive every resend of its request: late resends
		// under a 1s retention booked again.
		{[]string{"serve", "--keep-idempotency-keys", "1s"}, []string{"--keep-idempotency-keys 1s", "at least 10m0s", "books again"}},
		{[]string{"serve", "--addr", "0.0.0.0:0"}, []string{"--auth none", "--insecure"}}, // --auth none off loopback
		{[]string{"serve", "--max-held-rooms", "-1"}, nil},
		{[]string{"serve", "--max-hold-ttl", "0s"}, nil},
		{[]string{"serve", "--rate-limit", "-1"}, []string{"--rate-limit", "-1"}},
		{[]string{"serve", "--rate-burst", "5"}, []string{"--rate-burst", "--rate-limit"}},
		{[]string{"serve", "--hold-cooldown", "-1s"}, []string{"--hold-cooldown", "-1s", "0 (none) or more"}},
		// A hold's end must outlive its client's cooldown, or it is forgotten.
		{[]string{"serve", "--keep-holds", "10m"}, []string{"--keep-holds", "10m0s", "at least --hold-cooldown (15m0s)"}},
		{[]string{"serve", "--admin-addr", "0.0.0.0:0"}, nil}, // the admin port has no auth
		{[]string{"clients"}, nil},
		{[]string{"clients", "add"}, nil},
		{[]string{"clients", "add", "alice", "extra"}, nil},
		{[]string{"serve", "--max-conns", "0"}, nil},
		{[]string{"serve", "--max-conns", "10", "--max-conns-per-addr", "11"}, []string{"--max-conns-per-addr", "11"}},
		{[]string{"run", "extra"}, nil},
		{[]string{"serve", "--transaction-pooled"}, nil}, // migrations need a direct --migrate-url
		{[]string{"run", "--pgbouncer", "--pgbouncer-pool", "0"}, nil},
		{[]string{"--rooms", "-1"}, []string{"--rooms", "-1", "from 0"}},
		{[]string{"--servers", "0"}, []string{"--servers", "from 1"}},
		{[]string{"--hotels", "0"}, []string{"--hotels", "from 1"}},
		{[]string{"--pool", "-1"}, []string{"--pool", "from 0"}},
		{[]string{"--events", "0"}, []string{"--events", "from 1"}},
		{[]string{"--seed", "-1"}, []string{"-seed", `"-1"`, "whole number from 0"}},
		{[]string{"--clients", "abc"}, []string{"-clients", `"abc"`, "whole number"}},
		{[]string{"--timeout", "5"}, []string{"-timeout", "duration"}},
		{[]string{"--think", "abc"}, []string{"--think", `"abc"`, "0-300ms"}},
		{[]string{"--abandon", "0.5"}, []string{"--abandon", "--holds"}},
		{[]string{"load", "--target", "127.0.0.1:8080", "--event", "1"}, []string{"--target", "127.0.0.1:8080", "http://"}},
		{[]string{"load", "--target", "http://user:secret@127.0.0.1:8080", "--event", "1"}, []string{"--target", "user:xxxxx@127.0.0.1:8080", "without user info"}},
		{[]string{"load", "--target", "http://127.0.0.1:1", "--event", "1"}, []string{"--target", "connection refused"}},
		// A typo names what it most likely meant, and the command whose
		// flags it belongs to.
		{[]string{"--client", "200"}, []string{"-client", "did you mean --clients?", "see evento --help"}},
		{[]string{"compare", "--roundz", "3"}, []string{"did you mean --rounds?", "see evento compare --help"}},
		{[]string{"compar"}, []string{`"compar"`, `did you mean "compare"?`, "run, compare, bench"}},
		{[]string{"clients", "ad", "x"}, []string{`did you mean "add"?`, "add, list, revoke"}},
		{[]string{"bench", "--duration", "2500ms"}, []string{"--duration", "whole seconds", "2.5s"}},
	} {
		checkUsageError(t, runEvento(t, []string{"DATABASE_URL="}, c.args...), fmt.Sprint("evento ", c.args), c.wants...)
	}
}

func TestUnreachableDatabaseURLFailsFastInOneLine(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"seed"}, {"migrate"}, {"--clients", "5"}, {"compare"}, {"bench"}} {
		r := runEvento(t, []string{"DATABASE_URL=postgres://postgres@127.0.0.1:1/evento"}, args...)
		checkUsageError(t, r, fmt.Sprint("evento ", args), "127.0.0.1:1")
	}
}

// A run cut short by --timeout: the requests in flight at the end are
// counted as cut off, not as errors, and resolved with their keys before
// the verdict, so nothing is unknown and the ledger matches the database
// exactly. No cause is invented for errors nobody met. (--race-window
// keeps every booking in flight for 50 ms, so the end always cuts some.)
func TestRunCutShortCountsCancelledNotErrors(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	r := runEvento(t, bundle.env,
		"--clients", "40", "--strategy", "atomic", "--rooms", "100000", "--hotels", "1", "--servers", "2",
		"--think", "0", "--race-window", "50ms", "--timeout", "2s", "--json")
	report := decodeReport(t, r, 0)
	q := report.Requests
	if report.Verdict != checker.Inconclusive || q.Cancelled == 0 || q.Error != 0 || report.Unknown.Requests != 0 {
		t.Fatalf("verdict %s, requests %+v, unknown %+v: want inconclusive, some cut off, no errors, nothing unknown",
			report.Verdict, q, report.Unknown)
	}
	if report.Totals.Acknowledged != report.Totals.Booked {
		t.Fatalf("acknowledged %d, booked %d: the cut requests were not resolved", report.Totals.Acknowledged, report.Totals.Booked)
	}
	if containsAll(report.Notes, "max_connections") || containsAll(report.Notes, "warnings say why") {
		t.Fatalf("notes guess a cause nobody observed: %q", report.Notes)
	}
	if !containsAll(report.Notes, "in flight when the run ended") {
		t.Fatalf("notes do not say requests were cut off: %q", report.Notes)
	}
	// The timeline adds up to the totals, second by second.
	var booked int64
	for _, s := range report.Timeline {
		booked += s.Bookings
	}
	if len(report.Timeline) < 2 || booked != q.Success {
		t.Fatalf("timeline %+v adds up to %d bookings over %d seconds; want %d over at least 2", report.Timeline, booked, len(report.Timeline), q.Success)
	}
	assertReportMatchesDatabase(t, bundle.url, report)
}

// A run with no room to book tests nothing: inconclusive, with the reason,
// never "consistent".
func TestRunWithNoRoomsIsInconclusive(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	r := runEvento(t, bundle.env, "--clients", "5", "--strategy", "atomic", "--rooms", "0", "--hotels", "1",
		"--servers", "1", "--json", "--expect", "consistent")
	report := decodeReport(t, r, 1) // 1: not consistent
	if report.Verdict != checker.Inconclusive || !containsAll(report.Anomalies, "no room to book") {
		t.Fatalf("verdict %s, anomalies %q", report.Verdict, report.Anomalies)
	}
}

// --route hotel is a balancer hashing the hotel: every attempt at a hotel,
// in the history, went to one server; the report says how the requests
// were routed, and batched stays consistent.
func TestRunRoutedByHotelSendsEachHotelToOneServer(t *testing.T) {
	t.Parallel()
	report, lines := runWithHistory(t,
		"--clients", "24", "--strategy", "batched", "--rooms", "150", "--hotels", "4", "--servers", "2",
		"--think", "0", "--route", "hotel", "--seed", "3")
	if report.Verdict != checker.Consistent || report.Route != "hotel" {
		t.Fatalf("verdict %s, route %q: want consistent, routed by hotel", report.Verdict, report.Route)
	}
	servers := map[int64]map[string]bool{}
	for _, line := range lines {
		var a struct {
			Type, Server string
			Hotel        int64
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if a.Type != "attempt" {
			continue
		}
		if servers[a.Hotel] == nil {
			servers[a.Hotel] = map[string]bool{}
		}
		servers[a.Hotel][a.Server] = true
	}
	if len(servers) != 4 {
		t.Fatalf("attempts at %d hotels, want 4", len(servers))
	}
	for hotel, seen := range servers {
		if len(seen) != 1 {
			t.Errorf("hotel %d was booked through %d servers: %v", hotel, len(seen), seen)
		}
	}
}
