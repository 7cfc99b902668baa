package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/nemesis"
)

// Each fault kind, injected again and again while 40 clients book through
// two real servers: a safe strategy stays consistent, every booking a
// client was told of is in the database and nothing else is, no client
// gives up, and the hotel sells out. The nemesis's own record shows the
// faults really happened and were healed.
func TestSafeStrategiesStayConsistentUnderFaults(t *testing.T) {
	t.Parallel()
	for _, fault := range nemesis.Kinds {
		for _, strategy := range []string{"pessimistic", "batched"} {
			t.Run(fmt.Sprintf("%s/%s", fault, strategy), func(t *testing.T) {
				t.Parallel()
				bundle := setup(t)
				env, args := bundle.env, []string{}
				ownDatabase := slices.Contains(nemesis.DatabaseKinds, fault)
				if ownDatabase {
					// Only a PostgreSQL the run starts itself may be crashed.
					env, args = []string{"DATABASE_URL="}, []string{"--embedded"}
				}
				// On a loaded CI machine a fault can keep a client failing for
				// long: the budget is generous, and only a pause, which must
				// outlast the clients' patience so that requests do time out,
				// gets a short client timeout.
				timeout := "10s"
				if fault == nemesis.PausePostgres {
					timeout = "1s"
				}
				r := runEventoWithin(t, 5*time.Minute, env, append(args,
					"--clients", "40", "--strategy", strategy, "--rooms", "1200", "--hotels", "1", "--servers", "2",
					"--max-rooms", "1", "--think", "50ms-150ms", "--faults", fault, "--fault-every", "700ms",
					"--retry-budget", "90s", "--client-timeout", timeout, "--seed", "3", "--json", "--expect", "consistent")...)
				report := decodeReport(t, r, 0)
				if report.Verdict != checker.Consistent || !report.Totals.SoldOut || report.ClientsGaveUp != 0 || report.Unknown.Rooms != 0 {
					t.Fatalf("verdict %s, sold out %v, gave up %d, unknown %+v", report.Verdict, report.Totals.SoldOut, report.ClientsGaveUp, report.Unknown)
				}
				if len(report.Faults) == 0 {
					t.Fatalf("no %s was injected: the run proved nothing about it", fault)
				}
				for _, f := range report.Faults {
					if f.Fault != fault || f.Error != "" || f.Heal.Before(f.Start) {
						t.Fatalf("fault %+v", f)
					}
				}
				if !ownDatabase { // a run's own PostgreSQL is gone with it
					assertReportMatchesDatabase(t, bundle.url, report)
				}
			})
		}
	}
}

// The lab never crashes a PostgreSQL it did not start: one line, exit 2.
func TestDatabaseFaultsNeedTheRunsOwnPostgres(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	r := runEvento(t, bundle.env, "--clients", "2", "--rooms", "10", "--faults", "crash-postgres")
	checkUsageError(t, r, "--faults crash-postgres", "only a PostgreSQL it started")
}

// The negative control: naive under every kind of fault is still caught.
func TestNaiveIsStillCaughtUnderFaults(t *testing.T) {
	t.Parallel()
	r := runEventoWithin(t, 5*time.Minute, []string{"DATABASE_URL="}, "--embedded",
		"--clients", "40", "--strategy", "naive", "--rooms", "300", "--hotels", "1", "--servers", "2",
		"--think", "20ms-60ms", "--race-window", "30ms", "--faults", "all", "--fault-every", "300ms",
		"--client-timeout", "1s", "--seed", "3", "--json")
	report := decodeReport(t, r, 0)
	if report.Verdict != checker.Overbooked || len(report.Faults) == 0 {
		t.Fatalf("naive under faults: verdict %s with %d faults; want overbooked, with faults", report.Verdict, len(report.Faults))
	}
}

// --history writes every attempt and every fault as JSON lines: a run
// line first, then attempts and faults in time order, each attempt with
// its class (ok / fail / info) and every acknowledged booking among the ok
// ones, and an end line last that counts them.
func TestHistoryRecordsAttemptsAndFaults(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	path := filepath.Join(t.TempDir(), "history.jsonl")
	r := runEvento(t, bundle.env,
		"--clients", "30", "--strategy", "atomic", "--rooms", "900", "--hotels", "1", "--servers", "2",
		"--max-rooms", "1", "--think", "50ms-150ms", "--faults", "kill-server", "--fault-every", "500ms",
		"--seed", "4", "--json", "--history", path)
	report := decodeReport(t, r, 0)
	raw := readFile(t, path)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var first struct{ Type, Strategy string }
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Type != "run" || first.Strategy != "atomic" {
		t.Fatalf("first line %q: want the run line", lines[0])
	}
	var end struct{ Type, Lines, Attempts, Faults any }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &end); err != nil || end.Type != "end" ||
		end.Lines != float64(len(lines)-1) || end.Attempts != float64(len(lines)-2-len(report.Faults)) || end.Faults != float64(len(report.Faults)) {
		t.Fatalf("last line %q of %d: want the end line counting them", lines[len(lines)-1], len(lines))
	}
	var faults, ok int
	var last time.Time
	for _, line := range lines[1 : len(lines)-1] {
		var l struct {
			Type, Class, Op, Fault string
			Invoked, Start         time.Time
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		at := l.Invoked
		switch l.Type {
		case "attempt":
			if !slices.Contains([]string{"ok", "fail", "info"}, l.Class) || l.Op != "reserve" {
				t.Fatalf("attempt %q", line)
			}
			if l.Class == "ok" {
				ok++
			}
		case "fault":
			faults++
			at = l.Start
		default:
			t.Fatalf("line %q of unknown type", line)
		}
		if at.Before(last) {
			t.Fatalf("line %q out of time order", line)
		}
		last = at
	}
	if faults != len(report.Faults) || faults == 0 {
		t.Fatalf("%d fault lines, the report has %d faults", faults, len(report.Faults))
	}
	if int64(ok) < report.Requests.Success {
		t.Fatalf("%d ok attempts for %d reservations made", ok, report.Requests.Success)
	}
}
