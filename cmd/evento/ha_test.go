package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/nemesis"
	labreport "github.com/evento-lab/evento/lab/report"
)

// A replicated pair in strict mode, its primary killed, switched over
// and frozen past its leader key while clients book, under every safe
// strategy in one comparison (one pair, a strategy after another): the
// servers, on the multi-host URL, follow the primary without a restart,
// and every run ends consistent with no acknowledged booking lost. Each
// strategy meets one fault or two, and the nemesis starts each one's
// faults a kind later (nemesis.Skip), so between them they meet every kind.
func TestCompareHAStrictFailoversLoseNoAcknowledgedBooking(t *testing.T) {
	dbtest.NeedHA(t)
	t.Parallel()
	const rooms = 400
	faults := []string{nemesis.Failover, nemesis.Switchover, nemesis.PausePrimary}
	r := runEventoWithin(t, 8*time.Minute, []string{"DATABASE_URL="},
		"compare", "--ha", "--durability", "strict", "--strategies", safeModes(),
		"--faults", strings.Join(faults, ","), "--fault-every", "2s",
		"--clients", "20", "--rooms", strconv.Itoa(rooms), "--hotels", "1", "--max-rooms", "1", "--think", "100ms-200ms",
		"--seed", "25", "--json")
	c := decodeJSON[labreport.Comparison](t, r, 0)
	if c.Machine.DatabaseKind != labreport.ReplicatedPair || c.Machine.Durability != localpg.Strict {
		t.Errorf("the comparison says the database was %q, durability %q; want %q, %q", c.Machine.DatabaseKind, c.Machine.Durability, labreport.ReplicatedPair, localpg.Strict)
	}
	var ran []string
	met := map[string]bool{}
	for _, report := range c.Reports {
		ran = append(ran, report.Strategy)
		if report.Verdict != checker.Consistent || len(report.Anomalies) != 0 || !report.Completed {
			t.Errorf("%s: verdict %s, anomalies %q, completed %v", report.Strategy, report.Verdict, report.Anomalies, report.Completed)
		}
		if len(report.Faults) == 0 {
			t.Errorf("%s met no fault (sold out before the first?)", report.Strategy)
		}
		for _, f := range report.Faults {
			if f.Error != "" {
				t.Errorf("%s: fault %s on %s: %s", report.Strategy, f.Fault, f.Target, f.Error)
			}
			met[f.Fault] = true
			t.Logf("%s: %s: %s, healed after %s", report.Strategy, f.Fault, f.Target, f.Heal.Sub(f.Start).Round(100*time.Millisecond))
		}
		if h := report.Hotels[0]; !h.SoldOut || h.Booked != rooms {
			t.Errorf("%s: hotel %+v: want %d of %d booked", report.Strategy, h, rooms, rooms)
		}
	}
	if want := strings.Split(safeModes(), ","); !slices.Equal(ran, want) {
		t.Errorf("strategies run %v, want every safe one: %v", ran, want)
	}
	for _, f := range faults {
		if !met[f] {
			t.Errorf("no strategy met %s (faults met: %v)", f, met)
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
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

// The synchronous-replication cancel trap, through the servers: strict
// mode, the standby held back 7 s (past the servers' 5 s query timeout)
// before the primary dies. The COMMITs waiting for it are cancelled while
// already committed on the primary, and are answered 504; a resend is
// not told "booked" from its key while the standby lacks the booking,
// and after the failover, which loses those local commits, the resends
// book again. Every answer was true: nothing acknowledged is lost, and
// every unknown outcome is settled.
func TestRunHAStrictCancelledSyncWaitsLoseNothing(t *testing.T) {
	dbtest.NeedHA(t)
	t.Parallel()
	history := filepath.Join(t.TempDir(), "history.jsonl")
	r := runEventoWithin(t, 4*time.Minute, []string{"DATABASE_URL="},
		"run", "--ha", "--durability", localpg.Strict, "--strategy", "atomic",
		"--faults", nemesis.LagFailover, "--standby-pause", "7s", "--fault-every", "2s",
		"--clients", "20", "--rooms", "1500", "--hotels", "1", "--max-rooms", "1", "--think", "20ms-50ms",
		"--seed", "25", "--json", "--history", history)
	report := decodeReport(t, r, 0)
	if len(report.Faults) == 0 || report.Faults[0].Error != "" {
		t.Fatalf("faults %+v: want a lag-failover that healed\n%s", report.Faults, r.stderr)
	}
	unknown := outcomeUnknownAnswers(t, history)
	t.Logf("%s; %d answers 504; verdict %s, anomalies %q, unknown %+v", report.Faults[0].Target, unknown, report.Verdict, report.Anomalies, report.Unknown)
	if unknown == 0 {
		t.Errorf("no request was answered 504: no COMMIT waited past the query timeout, so the run did not meet the trap")
	}
	if report.Verdict != checker.Consistent || len(report.Anomalies) != 0 || report.Unknown.Requests != 0 {
		t.Errorf("verdict %s, anomalies %q, unknown %+v; want consistent, nothing lost, every outcome settled", report.Verdict, report.Anomalies, report.Unknown)
	}
}

// outcomeUnknownAnswers counts the attempts of a --history file answered
// 504.
func outcomeUnknownAnswers(t *testing.T, history string) int {
	t.Helper()
	n := 0
	for line := range strings.Lines(string(readFile(t, history))) {
		var a struct {
			Type   string
			Status int
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("history line %q: %v", line, err)
		}
		if a.Type == "attempt" && a.Status == http.StatusGatewayTimeout {
			n++
		}
	}
	return n
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
		{[]string{"--ha", "--durability", "eventual"}, `--durability must be one of ` + strings.Join(localpg.Durabilities, ", ") + `, got "eventual"`},
		{[]string{"--ha", "--faults", "crash-postgres"}, "--faults crash-postgres: breaks the one PostgreSQL of a run without --ha"},
		{[]string{"--ha", "--pgbouncer"}, "--ha and --pgbouncer"},
		{[]string{"--ha", "--standby-pause", "-1s"}, "--standby-pause must be 0 or positive, got -1s"},
	} {
		r := runEvento(t, []string{"DATABASE_URL="}, append([]string{"run"}, c.args...)...)
		if r.exit != 2 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("evento run %v: exit %d, stderr %q; want exit 2 and one line with %q", c.args, r.exit, r.stderr, c.want)
		}
	}
}
