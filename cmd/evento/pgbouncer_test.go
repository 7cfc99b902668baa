package main

import (
	"os"
	"strconv"
	"testing"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/cluster"
)

// Every safe strategy through a real PgBouncer in transaction pooling
// mode: 8 server processes of 20 connections each (160 client connections
// to PgBouncer) share a pool of 5 server sessions. Holds (some abandoned,
// so the sweeper must expire them) and idempotency keys go through it too.
// Each run must end consistent and sold out, and PostgreSQL must never
// have had more client backends on the run's database than PgBouncer's
// pool plus the lab's own direct pool (told apart by application_name).
func TestRunThroughPgBouncerEndsConsistentWithinItsPool(t *testing.T) {
	// Skipped on a machine without pgbouncer, except on CI, which installs it.
	if _, err := localpg.FindPgBouncer(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v, and CI=true: .ci/run installs it (apt-get install pgbouncer)", err)
		}
		t.Skipf("skipping: %v", err)
	}
	t.Parallel()
	const pool = 5
	for _, s := range db.Strategies {
		if !s.Safe {
			continue
		}
		strategy := s.Name
		// A hold cannot take rooms from a sharded hotel's buckets.
		holds := s.TakesHolds()
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			bundle := setup(t)
			holdFlags := []string{"--holds", "0"}
			if holds {
				holdFlags = []string{"--holds", "0.5", "--abandon", "0.5", "--hold-ttl", "1s"}
			}
			r := runEvento(t, bundle.env, append(append([]string{
				"run", "--pgbouncer", "--pgbouncer-pool", strconv.Itoa(pool), "--servers", "8",
				"--clients", "80", "--strategy", strategy, "--rooms", "20", "--hotels", "2", "--think", "0",
				// One room a booking: 40 bookings, about 20 through holds and
				// half of those abandoned, so the sweeper always has some to
				// expire (with up to 5 rooms a booking, a run saw 2 holds).
				"--max-rooms", "1"}, holdFlags...),
				"--seed", "11", "--json", "--expect", "consistent")...)
			report := decodeReport(t, r, 0)
			if report.Verdict != checker.Consistent || len(report.Anomalies) != 0 || !report.Completed || report.Servers != 8 {
				t.Fatalf("verdict %s, anomalies %q, completed %v, servers %d", report.Verdict, report.Anomalies, report.Completed, report.Servers)
			}
			for _, h := range report.Hotels {
				if !h.SoldOut || h.Booked != 20 || h.Reserved != 20 || h.Verdict != checker.Consistent {
					t.Fatalf("hotel %+v: want 20 of 20 booked and consistent", h)
				}
			}
			if holds && (report.Holds.Placed == 0 || report.Holds.Expired == 0 || report.HeldRoomsLeaked != 0) {
				t.Fatalf("holds %+v, leaked %d: want holds placed, abandoned ones expired by the sweeper, none leaked", report.Holds, report.HeldRoomsLeaked)
			}
			d := report.Database
			if d == nil || d.Samples == 0 {
				t.Fatalf("no backend samples in the report: %+v", d)
			}
			t.Logf("%s: peak %d client backends (%d through PgBouncer, pool %d; %d the lab's own) over %d samples",
				strategy, d.PeakClientBackends, d.PeakOtherBackends, d.PgBouncerPool, d.PeakLabBackends, d.Samples)
			if d.PgBouncerPool != pool {
				t.Errorf("report's PgBouncer pool %d, want %d", d.PgBouncerPool, pool)
			}
			if d.PeakOtherBackends < 1 || d.PeakOtherBackends > pool {
				t.Errorf("peak backends through PgBouncer %d, want 1 to %d (its pool), not one per server connection", d.PeakOtherBackends, pool)
			}
			if d.PeakLabBackends > cluster.LabPoolConns {
				t.Errorf("peak lab backends %d, want at most the lab pool's %d", d.PeakLabBackends, cluster.LabPoolConns)
			}
			if d.PeakClientBackends > pool+cluster.LabPoolConns {
				t.Errorf("peak client backends %d, want at most PgBouncer's pool %d + the lab's %d", d.PeakClientBackends, pool, cluster.LabPoolConns)
			}
			assertReportMatchesDatabase(t, bundle.url, report)
		})
	}
}
