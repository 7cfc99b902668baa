package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/lab/checker"
)

// Many generators, one verdict: three evento load processes, as if on
// three machines with no access to the database, book one event through
// two servers until it sells out, each writing its own history. evento
// check merges the three and judges the event as one run against the
// database: consistent, with totals the database confirms. Histories it
// cannot judge (another event's, a truncated file, a duplicate) are one
// line naming the file, and a history that claims a reservation the
// database lacks is caught as an untrue answer.
func TestCheckMergesTheHistoriesOfThreeLoads(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	event := seedEvent(t, bundle, "2", "60").EventID
	servers := startServers(t, bundle, 2)
	targets := servers[0].URL + "," + servers[1].URL
	dir := t.TempDir()

	histories := make([]string, 3)
	var wg sync.WaitGroup
	loads := make([]runResult, 3)
	for i := range histories {
		histories[i] = filepath.Join(dir, "load"+itoa(int64(i+1))+".jsonl")
		wg.Go(func() {
			// No DATABASE_URL: each load knows only its own clients, as
			// on a machine of its own; it cannot judge the event alone.
			loads[i] = runEvento(t, []string{"DATABASE_URL="}, "load", "--target", targets, "--event", itoa(event),
				"--clients", "8", "--strategy", "atomic", "--max-rooms", "3", "--think", "0-30ms", "--history", histories[i], "--json")
		})
	}
	wg.Wait()
	for i, l := range loads {
		// Each booked a share of the event: the loads ran side by side.
		if report := decodeReport(t, l, 0); report.Requests.Success == 0 {
			t.Fatalf("load %d booked nothing: %+v", i+1, report.Requests)
		}
	}

	args := append([]string{"check", "--event", itoa(event), "--json", "--expect", "consistent"}, histories...)
	for _, complete := range []bool{false, true} {
		args := args
		if complete {
			args = append([]string{"check", "--complete"}, args[1:]...)
		}
		report := decodeReport(t, runEvento(t, bundle.env, args...), 0)
		if report.Verdict != checker.Consistent || len(report.Anomalies) != 0 || report.VerifiedBy != "database (merged histories)" {
			t.Fatalf("verdict %s by %s, anomalies %q", report.Verdict, report.VerifiedBy, report.Anomalies)
		}
		if report.Clients != 24 || report.Servers != 2 || !report.Completed || !report.Totals.SoldOut ||
			report.Totals.Booked != 120 || report.Totals.Acknowledged != 120 || report.Unknown.Rooms != 0 {
			t.Fatalf("merged report: clients %d servers %d completed %v totals %+v unknown %+v",
				report.Clients, report.Servers, report.Completed, report.Totals, report.Unknown)
		}
		assertReportMatchesDatabase(t, bundle.url, report)
	}
	text := runEvento(t, bundle.env, append([]string{"check", "--event", itoa(event)}, histories...)...)
	t.Logf("evento check:\n%s", text.stdout)

	// Histories that cannot be judged as this event's one run.
	other := seedEvent(t, bundle, "1", "3").EventID
	otherHistory := filepath.Join(dir, "other-event.jsonl")
	if r := runEvento(t, []string{"DATABASE_URL="}, "load", "--target", targets, "--event", itoa(other),
		"--clients", "2", "--strategy", "atomic", "--think", "0", "--history", otherHistory, "--json"); r.exit != 0 {
		t.Fatalf("load on event %d: exit %d\n%s", other, r.exit, r.stderr)
	}
	raw := readFile(t, histories[1])
	truncated := filepath.Join(dir, "truncated.jsonl")
	cut := strings.TrimRight(string(raw), "\n")
	writeFile(t, truncated, cut[:len(cut)-10])
	// Cut at a line boundary, or an ok line dropped: every line left
	// parses, and both were judged consistent before the end line (the
	// missing bookings passed for someone else's).
	lines := strings.SplitAfter(strings.TrimRight(string(raw), "\n"), "\n")
	half := filepath.Join(dir, "half.jsonl")
	writeFile(t, half, strings.Join(lines[:len(lines)/2], ""))
	dropped := filepath.Join(dir, "dropped.jsonl")
	for i, line := range lines {
		if strings.Contains(line, `"class":"ok"`) {
			writeFile(t, dropped, strings.Join(slices.Delete(slices.Clone(lines), i, i+1), ""))
			break
		}
	}
	duplicate := filepath.Join(dir, "copy-of-load1.jsonl")
	first := readFile(t, histories[0])
	writeFile(t, duplicate, string(first))
	for _, c := range []struct {
		files []string
		wants []string
	}{
		{[]string{histories[0], otherHistory}, []string{otherHistory + ": ", "a history of event " + itoa(other), "not of --event " + itoa(event)}},
		{[]string{histories[0], truncated, histories[2]}, []string{truncated + ": ", "truncated"}},
		{[]string{histories[0], half, histories[2]}, []string{half + ": ", "has no end line", "cut short at a line boundary"}},
		{[]string{histories[0], dropped, histories[2]}, []string{dropped + ": ", "lines were dropped"}},
		{[]string{histories[0], histories[1], duplicate}, []string{duplicate + ": ", "the same run", histories[0], "duplicate"}},
	} {
		r := runEvento(t, bundle.env, append([]string{"check", "--event", itoa(event)}, c.files...)...)
		if r.stdout != "" {
			t.Errorf("check %v: stdout %q, want nothing", c.files, r.stdout)
		}
		checkUsageError(t, r, fmt.Sprint("check ", c.files), c.wants...)
	}

	// The negative control: one ok attempt of load 3 is edited to claim a
	// reservation the database lacks. The merged run is inconsistent, and
	// the per-key check names that very request.
	lied, request := claimAMissingReservation(t, histories[2], 987654321)
	r := runEvento(t, bundle.env, "check", "--event", itoa(event), "--json", "--expect", "consistent", histories[0], histories[1], lied)
	report := decodeReport(t, r, 1)
	if report.Verdict != checker.Inconsistent ||
		!containsAll(report.Anomalies, "untrue answer", request, "told 987654321", "acknowledged but not stored", "987654321") {
		t.Fatalf("edited history: verdict %s, anomalies %q", report.Verdict, report.Anomalies)
	}

	// A phantom with its counter and capacity raised, stored under a key
	// of load 1's clients that its history never sent: the counts agree,
	// and without --complete an unclaimed row was someone else's. The key
	// says whose it is.
	var run struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal([]byte(strings.SplitN(string(first), "\n", 2)[0]), &run); err != nil || run.RunID == "" {
		t.Fatalf("load 1's run line: %v", err)
	}
	phantomKey := run.RunID + "-99-1"
	var phantom int64
	scanRow(t, bundle.url, `
WITH ehr AS (UPDATE event_hotel_rooms SET assigned = assigned + 2, reserved = reserved + 2
              WHERE id = (SELECT min(id) FROM event_hotel_rooms WHERE event_id = $1) RETURNING id),
     r AS (INSERT INTO reservations (name, event_hotel_rooms_id, number) SELECT 'phantom', id, 2 FROM ehr RETURNING id),
     k AS (INSERT INTO idempotency_keys (key, fingerprint, expires_at, reservation_id)
           SELECT $2, 'phantom', now() + interval '1 day', id FROM r RETURNING reservation_id)
SELECT reservation_id FROM k`, []any{event, phantomKey}, &phantom)
	r = runEvento(t, bundle.env, append([]string{"check", "--event", itoa(event), "--json", "--expect", "consistent"}, histories...)...)
	report = decodeReport(t, r, 1)
	if report.Verdict != checker.Inconsistent ||
		!containsAll(report.Anomalies, "phantom booking", "keys of the histories' own clients", phantomKey, fmt.Sprint("reservation ", phantom)) {
		t.Fatalf("a phantom under load 1's key: verdict %s, anomalies %q", report.Verdict, report.Anomalies)
	}
}

// seedEvent runs evento seed --json and reads the event it made.
func seedEvent(t *testing.T, bundle *testBundle, hotels, rooms string) labdb.SeededEvent {
	t.Helper()
	seeded := runEvento(t, bundle.env, "seed", "--hotels", hotels, "--rooms", rooms, "--json")
	var event labdb.SeededEvent
	if err := json.Unmarshal([]byte(seeded.stdout), &event); seeded.exit != 0 || err != nil {
		t.Fatalf("seed: exit %d %q %q (%v)", seeded.exit, seeded.stdout, seeded.stderr, err)
	}
	return event
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// claimAMissingReservation copies a history with its first ok reserve
// attempt told reservation id instead: what a server that lied, or a
// ledger that lost track, would leave. It returns the copy and the edited
// request's key.
func claimAMissingReservation(t *testing.T, path string, id int64) (string, string) {
	t.Helper()
	raw := readFile(t, path)
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	for i, line := range lines {
		var a map[string]any
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		if a["type"] != "attempt" || a["op"] != "reserve" || a["class"] != "ok" || a["key"] == nil {
			continue
		}
		a["reservation"] = id
		edited, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = string(edited)
		copyPath := filepath.Join(filepath.Dir(path), "edited-"+filepath.Base(path))
		writeFile(t, copyPath, strings.Join(lines, "\n")+"\n")
		return copyPath, a["key"].(string)
	}
	t.Fatalf("%s has no ok reserve attempt with a key", path)
	return "", ""
}

// Flags may follow the history files: `evento check --event 2 h.jsonl
// --json` once read "--json" as a file to check.
func TestCheckFlagsMayFollowTheFiles(t *testing.T) {
	t.Parallel()
	cmd := newCheckCommand()
	if err := cmd.FlagSet.Parse([]string{"--event", "2", "h1.jsonl", "--json", "h2.jsonl", "--complete", "--", "--odd-name"}); err != nil {
		t.Fatal(err)
	}
	files, err := flagsAmongFiles(cmd.FlagSet, cmd.FlagSet.Args())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"h1.jsonl", "h2.jsonl", "--odd-name"}; !slices.Equal(files, want) {
		t.Errorf("files %q, want %q", files, want)
	}
	for _, name := range []string{"json", "complete"} {
		if f := cmd.FlagSet.Lookup(name); f.Value.String() != "true" {
			t.Errorf("--%s after a file was not parsed: %s", name, f.Value)
		}
	}
	if _, err := flagsAmongFiles(cmd.FlagSet, []string{"h1.jsonl", "--no-such-flag"}); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("an unknown flag after a file: %v", err)
	}
}
