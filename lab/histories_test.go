package lab

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
)

// attemptAt is one attempt of request r at hotel 1 of event 7, invoked at
// second n of the run.
func attemptAt(r string, n int, class string, status int, code string, reservation int64) client.Attempt {
	at := time.Date(2026, 1, 1, 0, 0, n, 0, time.UTC)
	return client.Attempt{
		Type: "attempt", Request: r, Key: r, Op: "reserve", Event: 7, Hotel: 1, Rooms: 2,
		Invoked: at, Completed: at.Add(100 * time.Millisecond), Class: class, Status: status, Code: code, Reservation: reservation,
	}
}

// The fold of a request's attempts into what its client was told follows
// the client's own rule (client.send): after a lost attempt only a final
// answer settles the request; a 503 or a conflict speaks of its resend
// alone, so the rooms stay unknown.
func TestLedgerFoldsEachRequestAsItsClientWasTold(t *testing.T) {
	t.Parallel()
	run := runLine{Type: "run", Event: 7, RunID: "r", Clients: 5, Completed: true}
	attempts := []client.Attempt{
		attemptAt("booked", 0, client.ClassOK, 201, "", 10),
		attemptAt("lost-then-replayed", 1, client.ClassInfo, 0, "", 0),
		attemptAt("lost-then-replayed", 2, client.ClassOK, 201, "", 11),
		attemptAt("lost-then-503", 3, client.ClassInfo, 0, "", 0),
		attemptAt("lost-then-503", 4, client.ClassFail, 503, "unavailable", 0),
		attemptAt("lost-then-sold-out", 5, client.ClassInfo, 0, "", 0),
		attemptAt("lost-then-sold-out", 6, client.ClassFail, 409, "sold_out", 0),
		attemptAt("conflict", 7, client.ClassFail, 409, "conflict", 0),
		attemptAt("503", 8, client.ClassFail, 503, "unavailable", 0),
	}
	h := history{path: "h", runs: []runLine{run}}
	for _, a := range attempts {
		h.lines = append(h.lines, historyAttempt{Attempt: a})
	}
	res, unscoped := mergeHistories([]history{h}).ledger([]client.Target{{EventID: 7, HotelID: 1, Assigned: 10}})
	ledger := res.Targets[0]
	if ledger.Acknowledged != 4 || ledger.Unknown != 2 || res.UnknownRequests != 1 || unscoped != 0 || !res.Completed {
		t.Fatalf("acknowledged %d unknown %d (%d requests), unscoped %d, completed %v; want 4, 2 (1), 0, true",
			ledger.Acknowledged, ledger.Unknown, res.UnknownRequests, unscoped, res.Completed)
	}
	want := map[string]int64{"booked": 10, "lost-then-replayed": 11, "lost-then-sold-out": 0, "conflict": 0, "503": 0}
	if !maps.Equal(ledger.Keyed, want) {
		t.Fatalf("keyed %v, want %v", ledger.Keyed, want)
	}
	if ledger.Reservations[10] != 2 || ledger.Reservations[11] != 2 || res.Requests.Success != 2 || res.Requests.Error != 5 {
		t.Fatalf("reservations %v, requests %+v", ledger.Reservations, res.Requests)
	}

	// Keys sent with an API key whose client the load could not name are
	// stored scoped to it: unknown, so left out of the per-key check.
	h.runs[0].APIKey = true
	res, unscoped = mergeHistories([]history{h}).ledger([]client.Target{{EventID: 7, HotelID: 1, Assigned: 10}})
	if unscoped != 6 || len(res.Targets[0].Keyed) != 0 || res.Targets[0].Acknowledged != 4 {
		t.Fatalf("unscoped %d keyed %v", unscoped, res.Targets[0].Keyed)
	}
}

// A history evento check cannot judge is one line that names the file.
func TestReadHistoriesRefusesWhatCannotBeJudged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	line := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	run := func(event int64, id string) string {
		return line(runLine{Type: "run", Strategy: "atomic", Event: event, RunID: id, Completed: true})
	}
	end := func(attempts int) string {
		return line(endLine{Type: "end", Lines: 1 + attempts, Attempts: attempts})
	}
	ok := line(attemptAt(strings.Repeat("x", 3), 0, client.ClassOK, 201, "", 10))
	other := line(attemptAt("y", 1, client.ClassOK, 201, "", 11))
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good", run(7, "a")+ok+end(1))
	for _, c := range []struct {
		name  string
		paths []string
		want  string
	}{
		{"another event", []string{write("other", run(8, "b")+end(0))}, "a history of event 8, not of --event 7"},
		{"truncated", []string{write("cut", run(7, "c")+ok[:len(ok)-20])}, "is cut short: the file is truncated"},
		{"a bad line inside", []string{write("bad", run(7, "d")+"{nonsense\n"+ok+end(1))}, "line 2 is not a history line"},
		{"empty", []string{write("empty", "")}, "empty"},
		{"no run line", []string{write("headless", ok)}, "before any run line"},
		{"older evento", []string{write("old", line(map[string]any{"type": "run", "strategy": "atomic", "seed": 1}))}, "names no event"},
		{"the same run twice", []string{good, write("copy", run(7, "a")+end(0))}, "the same run (run id a"},
		{"the same requests twice", []string{good, write("requests", run(7, "e")+ok+end(1))}, "request xxx is also in " + good},
		{"one file given twice", []string{good, good}, "given twice"},
		// Cut at a line boundary, every line parses: only the end line,
		// counted on close, tells what is missing.
		{"cut at a line boundary", []string{write("half", run(7, "h")+ok)}, "run h has no end line: the file was cut short at a line boundary"},
		{"an ok line dropped", []string{write("dropped", run(7, "i")+ok+end(2))}, "counts 3 lines (2 attempts, 0 faults), but 2 lines (1 attempts, 0 faults) were read"},
		{"a line added", []string{write("added", run(7, "j")+ok+other+end(1))}, "counts 2 lines (1 attempts, 0 faults), but 3 lines (2 attempts"},
		{"a line after the end", []string{write("after", run(7, "k")+ok+end(1)+other)}, "line 4 follows the end line of run k"},
		{"a run cut before the next", []string{write("spliced", run(7, "l")+ok+run(7, "m")+other+end(1))}, "run l has no end line"},
		{"concatenated with itself", []string{write("twice", run(7, "f")+ok+end(1)+run(7, "g")+ok+end(1))}, "an earlier run of this file"},
	} {
		_, err := readHistories(c.paths, 7)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") ||
			!strings.HasPrefix(err.Error(), c.paths[len(c.paths)-1]+": ") {
			t.Errorf("%s: %v; want one line naming %s that says %q", c.name, err, c.paths[len(c.paths)-1], c.want)
		}
	}
	if _, err := readHistories([]string{good}, 7); err != nil {
		t.Fatalf("a good history: %v", err)
	}
}

// judgeWithoutComplete judges attempts as evento check does without
// --complete, against hotel 1 of event 7 holding rows and keys: the rows no
// attempt claims (by an ok line or a key) are left out as someone else's.
func judgeWithoutComplete(t *testing.T, attempts []client.Attempt, rows map[int64]int64, keys map[string]int64) checker.Result {
	t.Helper()
	h := history{path: "h", runs: []runLine{{Type: "run", Event: 7, RunID: "r", Clients: 2, Completed: true}}}
	for _, a := range attempts {
		h.lines = append(h.lines, historyAttempt{Attempt: a})
	}
	var booked int64
	for _, n := range rows {
		booked += n
	}
	observed := []checker.Observed{{EventID: 7, HotelID: 1, Assigned: 10, Reserved: booked, Booked: booked, Rows: rows, KeyedReservations: map[string]int64{}}}
	res, _ := mergeHistories([]history{h}).ledger([]client.Target{{EventID: 7, HotelID: 1, Assigned: 10}})
	claimed := map[int64]bool{}
	for id := range res.Targets[0].Reservations {
		claimed[id] = true
	}
	for key, id := range keys {
		claimed[id] = true
		if _, ok := res.Targets[0].Keyed[key]; ok {
			observed[0].KeyedReservations[key] = id
		}
	}
	leaveOutUnclaimed(observed, claimed, false)
	checked, err := checker.Check(res, observed)
	if err != nil {
		t.Fatal(err)
	}
	return checked
}

// One request booked twice, with the counter consistent, was judged
// consistent without --complete: the ledger kept only the last ok
// attempt's reservation, so the first passed for someone else's.
func TestCheckFindsARequestBookedTwice(t *testing.T) {
	t.Parallel()
	rows := map[int64]int64{10: 2, 11: 2, 12: 2}
	twice := []client.Attempt{
		attemptAt("a", 0, client.ClassOK, 201, "", 10),
		attemptAt("a", 1, client.ClassOK, 201, "", 11),
		attemptAt("b", 2, client.ClassOK, 201, "", 12),
	}
	r := judgeWithoutComplete(t, twice, rows, map[string]int64{"a": 11, "b": 12})
	if r.Verdict != checker.Inconsistent || !strings.Contains(strings.Join(r.Anomalies, "\n"), "double booking: at hotel 1 (event 7) 1 requests were booked twice, each holding two reservations: a (told 10 and 11)") {
		t.Fatalf("one request told two reservations: verdict %s, anomalies %q", r.Verdict, r.Anomalies)
	}

	// Its resend booked again, and was told so; the first booking's
	// answer was told too, but the key stores only the second.
	resent := []client.Attempt{attemptAt("a", 0, client.ClassOK, 201, "", 10), attemptAt("b", 2, client.ClassOK, 201, "", 12)}
	r = judgeWithoutComplete(t, resent, rows, map[string]int64{"a": 11, "b": 12})
	if r.Verdict != checker.Inconsistent || !strings.Contains(strings.Join(r.Anomalies, "\n"), "double booking: at hotel 1 (event 7) 1 requests were booked twice, each holding two reservations: a (told 10, its key stores 11)") {
		t.Fatalf("a key storing another booked reservation: verdict %s, anomalies %q", r.Verdict, r.Anomalies)
	}

	// Two requests told one reservation: one booking, two claims.
	shared := []client.Attempt{attemptAt("a", 0, client.ClassOK, 201, "", 10), attemptAt("b", 2, client.ClassOK, 201, "", 10)}
	r = judgeWithoutComplete(t, shared, map[int64]int64{10: 2}, map[string]int64{"a": 10})
	if r.Verdict != checker.Inconsistent || !strings.Contains(strings.Join(r.Anomalies, "\n"), "shared reservation: at hotel 1 (event 7) 1 reservations were each told to more than one booking, which hold one booking's rooms between them: 10 (to 2 bookings)") {
		t.Fatalf("two requests told one reservation: verdict %s, anomalies %q", r.Verdict, r.Anomalies)
	}
}
