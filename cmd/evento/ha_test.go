package main

import (
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/nemesis"
	labreport "github.com/evento-lab/evento/lab/report"
)

// A replicated pair in strict mode, its primary killed and switched over
// while clients book: the servers, on the multi-host URL, follow the
// primary without a restart, and the run ends consistent with no
// acknowledged booking lost.
func TestRunHAStrictFailoverLosesNoAcknowledgedBooking(t *testing.T) {
	dbtest.NeedHA(t)
	t.Parallel()
	r := runEventoWithin(t, 4*time.Minute, []string{"DATABASE_URL="},
		"run", "--ha", "--durability", "strict", "--strategy", "atomic",
		"--faults", "failover,switchover", "--fault-every", "2s",
		"--clients", "20", "--rooms", "1800", "--hotels", "1", "--max-rooms", "1", "--think", "100ms-200ms",
		"--seed", "25", "--json", "--expect", "consistent")
	report := decodeReport(t, r, 0)
	if report.Verdict != checker.Consistent || len(report.Anomalies) != 0 || !report.Completed {
		t.Fatalf("verdict %s, anomalies %q, completed %v\n%s", report.Verdict, report.Anomalies, report.Completed, r.stderr)
	}
	if report.DatabaseKind != labreport.ReplicatedPair || report.Durability != localpg.Strict {
		t.Errorf("the report says the database was %q, durability %q; want %q, %q", report.DatabaseKind, report.Durability, labreport.ReplicatedPair, localpg.Strict)
	}
	met := map[string]bool{}
	for _, f := range report.Faults {
		if f.Error != "" {
			t.Errorf("fault %s on %s: %s", f.Fault, f.Target, f.Error)
		}
		met[f.Fault] = true
		t.Logf("%s: %s, healed after %s", f.Fault, f.Target, f.Heal.Sub(f.Start).Round(100*time.Millisecond))
	}
	if !met[nemesis.Failover] || !met[nemesis.Switchover] {
		t.Errorf("faults met %v, want both failover and switchover (a longer run?)", met)
	}
	if h := report.Hotels[0]; !h.SoldOut || h.Booked != 1800 {
		t.Errorf("hotel %+v: want 1800 of 1800 booked", h)
	}
}

// The same pair under asynchronous replication, its standby left a second
// behind before the primary dies: the bookings of that second were
// acknowledged and are gone, and the checker says so by name (and strict
// mode, under the same fault, loses none).
func TestRunHALagFailoverLosesAcknowledgedBookingsOnlyWhenAsync(t *testing.T) {
	dbtest.NeedHA(t)
	t.Parallel()
	for _, mode := range []string{localpg.Async, localpg.Strict} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := runEventoWithin(t, 4*time.Minute, []string{"DATABASE_URL="},
				"run", "--ha", "--durability", mode, "--strategy", "atomic",
				"--faults", "lag-failover", "--fault-every", "2s",
				"--clients", "20", "--rooms", "1500", "--hotels", "1", "--max-rooms", "1", "--think", "20ms-50ms",
				"--seed", "25", "--json")
			report := decodeReport(t, r, 0)
			if len(report.Faults) == 0 || report.Faults[0].Error != "" {
				t.Fatalf("faults %+v: want a lag-failover that healed\n%s", report.Faults, r.stderr)
			}
			t.Logf("%s: %s; verdict %s, anomalies %q", mode, report.Faults[0].Target, report.Verdict, report.Anomalies)
			lost := 0
			for _, a := range report.Anomalies {
				if strings.HasPrefix(a, "lost acknowledged booking:") {
					lost++
				}
			}
			if mode == localpg.Async && (report.Verdict != checker.Inconsistent || lost != 1 || len(report.Anomalies) != 1) {
				t.Errorf("async: verdict %s, anomalies %q; want inconsistent with one lost acknowledged booking anomaly and nothing else", report.Verdict, report.Anomalies)
			}
			if mode == localpg.Strict && (report.Verdict != checker.Consistent || len(report.Anomalies) != 0) {
				t.Errorf("strict: verdict %s, anomalies %q; want consistent", report.Verdict, report.Anomalies)
			}
		})
	}
}

// The failover faults need --ha, and --ha has no single PostgreSQL to
// crash: each refusal is one line naming the flag, and `all` leaves out
// what the run cannot do.
func TestRunHAFaultFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--faults", "failover"}, "--faults failover: needs --ha"},
		{[]string{"--durability", "strict"}, "--durability applies with --ha only"},
		{[]string{"--ha", "--durability", "eventual"}, `--durability must be one of async, sync, strict, got "eventual"`},
		{[]string{"--ha", "--faults", "crash-postgres"}, "--faults crash-postgres: breaks the one PostgreSQL of a run without --ha"},
		{[]string{"--ha", "--pgbouncer"}, "--ha and --pgbouncer"},
	} {
		r := runEvento(t, []string{"DATABASE_URL="}, append([]string{"run"}, c.args...)...)
		if r.exit != 2 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("evento run %v: exit %d, stderr %q; want exit 2 and one line with %q", c.args, r.exit, r.stderr, c.want)
		}
	}
}
