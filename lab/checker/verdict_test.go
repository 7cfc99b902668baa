package checker

import (
	"strings"
	"testing"

	"github.com/evento-lab/evento/lab/client"
)

func ledger(acknowledged, unknown int64, rows map[int64]int64) client.TargetResult {
	return client.TargetResult{Target: client.Target{EventID: 1, HotelID: 2}, Acknowledged: acknowledged, Unknown: unknown, Reservations: rows}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	rows := map[int64]int64{10: 3, 11: 2}
	cases := []struct {
		name     string
		ledger   client.TargetResult
		seen     Observed
		verdict  string
		anomaly  string // a substring of one anomaly; "" = none expected
		noteLike string
	}{
		{
			name:    "sold out exactly",
			ledger:  ledger(5, 0, rows),
			seen:    Observed{Assigned: 5, Reserved: 5, Booked: 5, Rows: rows},
			verdict: Consistent,
		},
		{
			name:     "unknown outcome that did book",
			ledger:   ledger(3, 2, map[int64]int64{10: 3}),
			seen:     Observed{Assigned: 5, Reserved: 5, Booked: 5, Rows: rows},
			verdict:  Consistent,
			noteLike: "unknown outcomes",
		},
		{
			name:    "unknown outcome settled as booked from its key",
			ledger:  client.TargetResult{Target: client.Target{EventID: 1, HotelID: 2}, Acknowledged: 3, ResolvedBooked: 2, Reservations: map[int64]int64{10: 3}},
			seen:    Observed{Assigned: 5, Reserved: 5, Booked: 5, Rows: rows},
			verdict: Consistent,
		},
		{
			name:    "a booking settled from its key that the rooms lack",
			ledger:  client.TargetResult{Target: client.Target{EventID: 1, HotelID: 2}, Acknowledged: 3, ResolvedBooked: 2, Reservations: map[int64]int64{10: 3}},
			seen:    Observed{Assigned: 5, Reserved: 3, Booked: 3, Rows: map[int64]int64{10: 3}},
			verdict: Inconsistent,
			anomaly: "lost booking",
		},
		{
			name:    "naive lost update past capacity",
			ledger:  ledger(10, 0, map[int64]int64{10: 5, 11: 5}),
			seen:    Observed{Assigned: 5, Reserved: 5, Booked: 10, Rows: map[int64]int64{10: 5, 11: 5}},
			verdict: Overbooked,
			anomaly: "lost update: at hotel 2 (event 1) the counter says 5 but 10 rooms are booked",
		},
		{
			name:    "lost update within capacity",
			ledger:  ledger(4, 0, map[int64]int64{10: 2, 11: 2}),
			seen:    Observed{Assigned: 10, Reserved: 2, Booked: 4, Rows: map[int64]int64{10: 2, 11: 2}},
			verdict: Inconsistent,
			anomaly: "lost update",
		},
		{
			name:    "acknowledged booking missing",
			ledger:  ledger(5, 0, rows),
			seen:    Observed{Assigned: 5, Reserved: 3, Booked: 3, Rows: map[int64]int64{10: 3}},
			verdict: Inconsistent,
			anomaly: "lost acknowledged booking: at hotel 2 (event 1) 1 bookings (2 rooms) confirmed to clients are gone from the database (reservation ids [11])",
		},
		{
			// A failover lost reservation 11, and its 2 rooms were sold
			// again as 12: clients hold 7 acknowledged rooms of 5, yet the
			// database is not overbooked; the loss is the finding.
			name:    "lost acknowledged booking whose rooms were sold again",
			ledger:  ledger(7, 0, map[int64]int64{10: 3, 11: 2, 12: 2}),
			seen:    Observed{Assigned: 5, Reserved: 5, Booked: 5, Rows: map[int64]int64{10: 3, 12: 2}},
			verdict: Inconsistent,
			anomaly: "lost acknowledged booking: at hotel 2 (event 1) 1 bookings (2 rooms)",
		},
		{
			name: "lost acknowledged booking named by its key",
			ledger: client.TargetResult{Target: client.Target{EventID: 1, HotelID: 2}, Acknowledged: 5, Reservations: rows,
				Keyed: map[string]int64{"k10": 10, "k11": 11}},
			seen:    Observed{Assigned: 5, Reserved: 3, Booked: 3, Rows: map[int64]int64{10: 3}, KeyedReservations: map[string]int64{"k10": 10}},
			verdict: Inconsistent,
			anomaly: "1 idempotency keys told one of them store nothing: k11 (told 11)",
		},
		{
			name:    "acknowledged booking stored with other rooms",
			ledger:  ledger(5, 0, rows),
			seen:    Observed{Assigned: 5, Reserved: 4, Booked: 4, Rows: map[int64]int64{10: 3, 11: 1}},
			verdict: Inconsistent,
			anomaly: "acknowledged but not stored: at hotel 2 (event 1) 1 reservations confirmed to clients are missing or differ",
		},
		{
			name:    "booking nobody was told about",
			ledger:  ledger(3, 0, map[int64]int64{10: 3}),
			seen:    Observed{Assigned: 5, Reserved: 5, Booked: 5, Rows: rows},
			verdict: Inconsistent,
			anomaly: "phantom booking",
		},
		{
			name:    "through the API: counter behind the acknowledgements",
			ledger:  ledger(8, 0, nil),
			seen:    Observed{Assigned: 10, Reserved: 5, Booked: 5},
			verdict: Inconsistent,
			anomaly: "lost update (seen through the API)",
		},
		{
			name:    "evento load on an event a naive run overbooked: judged on its own bookings",
			ledger:  ledger(0, 0, map[int64]int64{}),
			seen:    Observed{Assigned: 50, Reserved: 50, Booked: 1141, Rows: map[int64]int64{}, BookedBefore: 1141, ReservedBefore: 50},
			verdict: Consistent,
		},
		{
			name:    "evento load adding to an overbooked event",
			ledger:  ledger(3, 0, map[int64]int64{9: 3}),
			seen:    Observed{Assigned: 50, Reserved: 53, Booked: 1144, Rows: map[int64]int64{9: 3}, BookedBefore: 1141, ReservedBefore: 50},
			verdict: Overbooked,
			anomaly: "1144 rooms booked of 50",
		},
		{
			name:    "through the API: more acknowledged than the hotel has",
			ledger:  ledger(12, 0, nil),
			seen:    Observed{Assigned: 10, Reserved: 10, Booked: 10},
			verdict: Overbooked,
			anomaly: "clients were told 12 rooms",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.seen.EventID, c.seen.HotelID = 1, 2
			j := judge(c.ledger, c.seen)
			if j.verdict != c.verdict {
				t.Fatalf("verdict %s, want %s (anomalies %q)", j.verdict, c.verdict, j.anomalies)
			}
			joined := strings.Join(j.anomalies, "\n")
			if c.anomaly == "" && len(j.anomalies) > 0 {
				t.Fatalf("unexpected anomalies: %q", j.anomalies)
			}
			if !strings.Contains(joined, c.anomaly) {
				t.Fatalf("anomalies %q do not mention %q", j.anomalies, c.anomaly)
			}
			if c.noteLike != "" && !strings.Contains(strings.Join(j.notes, "\n"), c.noteLike) {
				t.Fatalf("notes %q do not mention %q", j.notes, c.noteLike)
			}
		})
	}
}

// A run with nothing wrong still proves little when it was cut short,
// its clients gave up, or there was no room to book (none assigned, or all
// booked before the run): inconclusive.
func TestRunsThatProvedLittleAreInconclusive(t *testing.T) {
	t.Parallel()
	rows := map[int64]int64{1: 2}
	targets := []client.TargetResult{{Target: client.Target{EventID: 1, HotelID: 2, Assigned: 5}, Acknowledged: 2, Reservations: rows}}
	seen := Observed{EventID: 1, HotelID: 2, Assigned: 5, Reserved: 2, Booked: 2, Rows: rows}
	nothing := client.Result{Completed: true, Targets: []client.TargetResult{ledger(0, 0, map[int64]int64{})}}
	for _, c := range []struct {
		name string
		res  client.Result
		seen Observed
		want string
	}{
		{"finished", client.Result{Completed: true, Targets: targets}, seen, Consistent},
		{"interrupted", client.Result{Completed: false, Targets: targets}, seen, Inconclusive},
		{"clients gave up", client.Result{Completed: true, GaveUp: 3, Targets: targets}, seen, Inconclusive},
		{"no rooms assigned", nothing, Observed{EventID: 1, HotelID: 2, Assigned: 0}, Inconclusive},
		{"all booked before", nothing,
			Observed{EventID: 1, HotelID: 2, Assigned: 10, Reserved: 10, Booked: 10, BookedBefore: 10, ReservedBefore: 10}, Inconclusive},
	} {
		r, err := Check(c.res, []Observed{c.seen})
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != c.want {
			t.Errorf("%s: verdict %s, want %s (%q)", c.name, r.Verdict, c.want, r.Anomalies)
		}
	}
}

// The per-key check: room counts that balance (an unknown outcome covers
// the extra booking) cannot hide a request that was told "nothing was
// booked" while its key holds a booking, nor one told a reservation its
// key does not hold.
func TestEveryKeyedAnswerIsHeldAgainstItsKey(t *testing.T) {
	t.Parallel()
	rows := map[int64]int64{10: 3, 11: 2}
	honest := ledger(3, 2, map[int64]int64{10: 3})
	honest.Keyed = map[string]int64{"k-ok": 10, "k-503": 0}
	seen := Observed{Assigned: 5, Reserved: 5, Booked: 5, Rows: rows, KeyedReservations: map[string]int64{"k-ok": 10}}
	if j := judge(honest, seen); j.verdict != Consistent {
		t.Fatalf("honest answers: %s %v", j.verdict, j.anomalies)
	}

	lied := honest
	seen.KeyedReservations = map[string]int64{"k-ok": 10, "k-503": 11}
	j := judge(lied, seen)
	if j.verdict != Inconsistent || len(j.anomalies) != 1 || !strings.Contains(j.anomalies[0], "k-503 (reservation 11)") {
		t.Fatalf("a 503 whose key holds a booking: %s %v", j.verdict, j.anomalies)
	}

	seen.KeyedReservations = map[string]int64{"k-ok": 11}
	j = judge(lied, seen)
	if j.verdict != Inconsistent || !strings.Contains(strings.Join(j.anomalies, "\n"), "k-ok (told 10, stored 11)") {
		t.Fatalf("an acknowledgement its key does not hold: %s %v", j.verdict, j.anomalies)
	}
}

// Keyed bookings the database could not settle leave the run inconclusive,
// saying why; server errors make their own verdict, named beside the rest.
func TestCheckNamesWhatIsStillUnknownAndServerErrors(t *testing.T) {
	t.Parallel()
	seen := []Observed{{EventID: 1, HotelID: 2, Assigned: 5, Reserved: 5, Booked: 5, Rows: map[int64]int64{10: 3, 11: 2}}}
	res := client.Result{Completed: true, Targets: []client.TargetResult{ledger(3, 2, map[int64]int64{10: 3})}}
	res.Targets[0].UnknownKeys = map[string]int64{"k1": 2}
	res.UnknownRequests = 1
	res.Resolve(map[string]int64{}, "the servers may still commit it")
	if res.Completed || res.Resolution.Left != 1 || res.Targets[0].Unknown != 2 {
		t.Fatalf("resolved %+v, completed %v, unknown %d", res.Resolution, res.Completed, res.Targets[0].Unknown)
	}
	r, err := Check(res, seen)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Inconclusive || len(r.Anomalies) != 1 || !strings.Contains(r.Anomalies[0], "the servers may still commit it") {
		t.Fatalf("verdict %s, anomalies %q", r.Verdict, r.Anomalies)
	}

	res.Requests.Internal = 4
	if r, _ = Check(res, seen); r.Verdict != ServerErrors || !strings.Contains(r.Anomalies[0], "4 answers were 500") {
		t.Fatalf("verdict %s, anomalies %q", r.Verdict, r.Anomalies)
	}
}

// A load that books as one client, on an event where another client
// books 4 rooms while it runs (and had 2 before): judged on every row it
// is a phantom of 4 rooms; with LeaveOutOthers it is consistent, and the
// counter is still held to all the hotel's rows (a lost update of the
// others' shows).
func TestLeaveOutOthers(t *testing.T) {
	t.Parallel()
	before := []Observed{{HotelID: 2, Assigned: 20, Reserved: 2, Booked: 2, OthersBooked: 2, Rows: map[int64]int64{1: 2}}}
	mine := map[int64]int64{10: 3, 11: 2}
	rows := map[int64]int64{1: 2, 10: 3, 11: 2, 12: 4}
	after := func(reserved int64) []Observed {
		return []Observed{{HotelID: 2, Assigned: 20, Reserved: reserved, Booked: 11, OthersBooked: 6, Rows: rows}}
	}

	judged := after(11)
	Since(judged, before)
	if j := judge(ledger(5, 0, mine), judged[0]); j.verdict != Inconsistent {
		t.Fatalf("without leaving the others out: %s %v, want inconsistent (phantom rooms)", j.verdict, j.anomalies)
	}
	judged = after(11)
	Since(judged, before)
	if during := LeaveOutOthers(judged, before); during != 4 {
		t.Fatalf("others booked %d rooms during the load, want 4", during)
	}
	if j := judge(ledger(5, 0, mine), judged[0]); j.verdict != Consistent {
		t.Fatalf("judged on its own rows: %s %v, want consistent", j.verdict, j.anomalies)
	}
	judged = after(9) // the counter lost 2 of the others' rooms
	Since(judged, before)
	LeaveOutOthers(judged, before)
	if j := judge(ledger(5, 0, mine), judged[0]); j.verdict == Consistent {
		t.Fatalf("a lost update of the others' rooms went unseen: %v", j.anomalies)
	}
}

// TestLostAcknowledgedBookingIsOneAnomaly checks that a booking lost in a
// failover is named once, as itself: not also as an overbooking (its rooms
// sold again), a lost booking by the counts, or an untrue answer per key.
func TestLostAcknowledgedBookingIsOneAnomaly(t *testing.T) {
	t.Parallel()
	led := client.TargetResult{Target: client.Target{EventID: 1, HotelID: 2}, Acknowledged: 7,
		Reservations: map[int64]int64{10: 3, 11: 2, 12: 2}, Keyed: map[string]int64{"k10": 10, "k11": 11, "k12": 12}}
	seen := Observed{Assigned: 5, Reserved: 5, Booked: 5, Rows: map[int64]int64{10: 3, 12: 2},
		KeyedReservations: map[string]int64{"k10": 10, "k12": 12}}
	j := judge(led, seen)
	if j.verdict != Inconsistent || len(j.anomalies) != 1 || !strings.HasPrefix(j.anomalies[0], "lost acknowledged booking:") {
		t.Errorf("verdict %s, anomalies %q; want inconsistent and one lost acknowledged booking", j.verdict, j.anomalies)
	}
}

// TestLostAcknowledgedBookingWhoseIDWasReused: after a failover the new
// primary's sequence hands out ids the old primary had told clients, for
// bookings of its own. The room counts then agree, and only the keys show
// that the first bookings told those ids are gone; no shared reservation.
// Without a new primary the same ledger is a shared reservation, as before.
func TestLostAcknowledgedBookingWhoseIDWasReused(t *testing.T) {
	t.Parallel()
	// k1 was told 11 by the old primary and is gone; k2 was told 11 by
	// the new one, which stores it.
	led := client.TargetResult{Target: client.Target{EventID: 1, HotelID: 2}, Acknowledged: 4,
		Reservations: map[int64]int64{10: 3, 11: 1}, ToldTwice: map[int64]int{11: 2},
		Keyed: map[string]int64{"k0": 10, "k1": 11, "k2": 11}}
	seen := Observed{EventID: 1, HotelID: 2, Assigned: 5, Reserved: 4, Booked: 4, Rows: map[int64]int64{10: 3, 11: 1},
		KeyedReservations: map[string]int64{"k0": 10, "k2": 11}, PrimaryChanged: true}
	j := judge(led, seen)
	want := "lost acknowledged booking: at hotel 2 (event 1) 1 bookings (1 rooms) confirmed to clients are gone from the database (reservation ids [11]; 1 of them now another booking's, handed out again by the new primary); 1 idempotency keys told one of them store nothing: k1 (told 11)"
	if j.verdict != Inconsistent || len(j.anomalies) != 1 || j.anomalies[0] != want {
		t.Errorf("verdict %s, anomalies %q; want inconsistent and only %q", j.verdict, j.anomalies, want)
	}
	seen.PrimaryChanged = false
	j = judge(led, seen)
	if len(j.anomalies) == 0 || strings.Contains(strings.Join(j.anomalies, "\n"), "lost acknowledged booking") || !strings.Contains(strings.Join(j.anomalies, "\n"), "shared reservation") {
		t.Errorf("without a new primary: anomalies %q; want a shared reservation, no lost booking", j.anomalies)
	}
}
