package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/evento-lab/evento/lab/checker"
)

// Half the bookings go hold -> confirm and a third of those holds are
// abandoned with a 1-second TTL: the run waits for them to expire, the
// servers' sweepers free them, and nothing stays locked. Every room is
// sold: a client told rooms_held waits for the abandoned holds instead of
// stopping as if the hotel were sold out. The same with --auth, where
// every simulated client has an API key, holds and a cap of its own.
func TestRunWithHoldsLeaksNothing(t *testing.T) {
	t.Parallel()
	for _, auth := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", auth), func(t *testing.T) {
			t.Parallel()
			runWithHolds(t, auth)
		})
	}
}

func runWithHolds(t *testing.T, auth bool) {
	bundle := setup(t)
	args := []string{
		// One room per booking: some 40 holds, of which about 12 abandoned,
		// so the run cannot miss any of the three fates.
		"--clients", "60", "--strategy", "atomic", "--rooms", "40", "--hotels", "2", "--servers", "2", "--max-rooms", "1",
		"--think", "0", "--holds", "0.5", "--abandon", "0.3", "--hold-ttl", "1s", "--seed", "5",
		"--json", "--expect", "consistent"}
	if auth {
		args = append(args, "--auth")
	}
	report := decodeReport(t, runEvento(t, bundle.env, args...), 0)
	h := report.Holds
	if report.Verdict != checker.Consistent || report.HeldRoomsLeaked != 0 || h.ActiveAtEnd != 0 {
		t.Fatalf("verdict %s, leaked %d, holds %+v", report.Verdict, report.HeldRoomsLeaked, h)
	}
	if report.Totals.Booked != report.Totals.Assigned {
		t.Fatalf("%d of %d rooms booked: abandoned holds left rooms unsold (rooms_held answers %d)",
			report.Totals.Booked, report.Totals.Assigned, report.Requests.RoomsHeld)
	}
	if wantAuth := map[bool]string{false: "none:", true: "keys:"}[auth]; !strings.HasPrefix(report.Auth, wantAuth) {
		t.Fatalf("report says auth %q, want %s...", report.Auth, wantAuth)
	}
	if h.Placed == 0 || h.Confirmed == 0 || h.Clients.Abandoned == 0 || h.Expired < h.Clients.Abandoned {
		t.Fatalf("holds %+v: want some placed, confirmed, and every abandoned one expired", h)
	}
	if h.Placed != h.Confirmed+h.Released+h.Expired {
		t.Fatalf("holds %+v: every hold must have ended one way", h)
	}
	for _, hotel := range report.Hotels {
		if hotel.Locked != 0 {
			t.Fatalf("hotel %d still has %d rooms locked", hotel.HotelID, hotel.Locked)
		}
	}
	assertReportMatchesDatabase(t, bundle.url, report)
}

// Every booking takes 30ms on the server (--race-window) and the clients
// give up waiting after 20ms, so every first attempt times out. With
// idempotency keys the resends learn every outcome: the verdict is exact.
// Without them the outcomes stay unknown and the verdict can only bound
// what was booked.
func TestClientTimeoutsWithAndWithoutIdempotency(t *testing.T) {
	t.Parallel()
	args := []string{"--clients", "30", "--strategy", "pessimistic", "--rooms", "30", "--hotels", "1",
		"--servers", "2", "--think", "0", "--race-window", "30ms", "--client-timeout", "20ms", "--json"}

	bundle := setup(t)
	withKeys := decodeReport(t, runEvento(t, bundle.env, args...), 0)
	if withKeys.Verdict != checker.Consistent || withKeys.Unknown.Rooms != 0 ||
		withKeys.Totals.Acknowledged != withKeys.Totals.Booked || withKeys.Totals.Booked != 30 {
		t.Fatalf("with keys: verdict %s, unknown %+v, totals %+v; want exact", withKeys.Verdict, withKeys.Unknown, withKeys.Totals)
	}
	if withKeys.Replayed == 0 {
		t.Fatalf("with keys: no answer was replayed, so no timeout was provoked: %+v", withKeys.Requests)
	}
	assertReportMatchesDatabase(t, bundle.url, withKeys)

	bundle = setup(t)
	withoutKeys := decodeReport(t, runEvento(t, bundle.env, append(args, "--no-idempotency")...), 0)
	if withoutKeys.Unknown.Rooms == 0 || withoutKeys.Totals.Acknowledged >= withoutKeys.Totals.Booked {
		t.Fatalf("without keys: unknown %+v, totals %+v; want outcomes left unknown", withoutKeys.Unknown, withoutKeys.Totals)
	}
	if withoutKeys.Totals.Booked > withoutKeys.Totals.Acknowledged+withoutKeys.Totals.Unknown {
		t.Fatalf("without keys: booked beyond what the ledger allows: %+v", withoutKeys.Totals)
	}
	if !containsAll(withoutKeys.Notes, "had unknown outcomes; the verdict accepts anything from") {
		t.Fatalf("the report does not say the verdict was charitable: %q", withoutKeys.Notes)
	}
}
