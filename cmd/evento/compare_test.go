package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/report"
)

// compare end to end on a small workload, two rounds: one line per run,
// whose numbers are its own run's report, the rounds interleaved (every
// strategy once, then every strategy again), the same seed everywhere,
// the strategies' lines ranked with the overbooking one last and without
// a ratio, and the files --out and --csv promise.
func TestCompareTableEqualsTheRuns(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	out := t.TempDir()
	csvPath := filepath.Join(t.TempDir(), "sheets", "compare.csv") // sheets/ does not exist yet
	r := runEvento(t, bundle.env, "compare", "--strategies", "naive,atomic,batched", "--rounds", "2",
		"--clients", "40", "--rooms", "15", "--hotels", "2", "--think", "0", "--seed", "11",
		"--race-window", "10ms", "--json", "--out", out, "--csv", csvPath)
	c := decodeJSON[report.Comparison](t, r, 0)
	if len(c.Rows) != 3 || len(c.Runs) != 6 || len(c.Reports) != 6 || c.Workload.Seed != 11 || c.Workload.Clients != 40 || c.Workload.Rounds != 2 {
		t.Fatalf("comparison: %d rows, %d runs, %d reports, %+v", len(c.Rows), len(c.Runs), len(c.Reports), c.Workload)
	}
	var order []string
	eventIDs := map[int64]bool{}
	for i, run := range c.Runs {
		report := c.Reports[i]
		order = append(order, fmt.Sprintf("%s/%d", run.Strategy, run.Round))
		if run.Strategy != report.Strategy || run.Verdict != report.Verdict ||
			run.ReservationsPerSecond != report.ReservationsPerSecond || run.P99Ms != report.LatencyMs.P99 ||
			run.Conflicts != report.Requests.Conflict || run.Errors != report.Requests.Error || report.Seed != 11 {
			t.Fatalf("run %+v does not match its report", run)
		}
		for _, id := range report.EventIDs {
			if eventIDs[id] {
				t.Fatalf("event %d used by two runs", id)
			}
			eventIDs[id] = true
		}
	}
	if got := strings.Join(order, " "); got != "naive/1 atomic/1 batched/1 naive/2 atomic/2 batched/2" {
		t.Errorf("runs ran in the order %s, want the rounds interleaved", got)
	}
	last := c.Rows[2]
	if last.Strategy != "naive" || last.Verdict != checker.Overbooked || last.Rank != 0 || last.RatioToFastestSafe != nil {
		t.Fatalf("the overbooking strategy is ranked: %+v", last)
	}
	first := c.Rows[0]
	if !first.FastestSafe || first.Rank != 1 || first.RatioToFastestSafe == nil || *first.RatioToFastestSafe != 1 || first.Verdict != checker.Consistent {
		t.Fatalf("the first line is not the fastest safe strategy: %+v", first)
	}
	if first.RoomsPerSecond < first.RoomsPerSecondMin || first.RoomsPerSecond > first.RoomsPerSecondMax || first.RoomsSold != 30 {
		t.Fatalf("median outside its spread, or rooms sold not 2 x 15: %+v", first)
	}
	if !strings.HasPrefix(c.Recommendation[0], first.Strategy+" was the fastest safe strategy") {
		t.Fatalf("the recommendation does not start with %s: %q", first.Strategy, c.Recommendation)
	}
	if c.Machine.CPUs < 1 || !strings.HasPrefix(c.Machine.PostgreSQL, "1") || c.Machine.Commit == "" {
		t.Fatalf("machine: %+v", c.Machine)
	}
	batched := c.Rows[0]
	if batched.Strategy != "batched" {
		batched = c.Rows[1]
	}
	if batched.MeanBatchSize < 1 || batched.SQLFile != "queries/batched.sql" {
		t.Fatalf("batched reported no batches, or no SQL file: %+v", batched)
	}
	saved := readFile(t, filepath.Join(out, "report.json"))
	var fromFile report.Comparison
	if err := json.Unmarshal(saved, &fromFile); err != nil || len(fromFile.Rows) != 3 || len(fromFile.Reports) != 6 {
		t.Fatalf("report.json: %v", err)
	}
	for i := range fromFile.Rows {
		if fromFile.Rows[i].Strategy != c.Rows[i].Strategy || fromFile.Rows[i].RoomsPerSecond != c.Rows[i].RoomsPerSecond {
			t.Fatalf("report.json row %d differs from stdout: %+v", i, fromFile.Rows[i])
		}
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !strings.Contains(string(page), "throughput-chart") || !strings.Contains(string(page), "Which one?") ||
		!strings.Contains(string(page), "<code>queries/atomic.sql</code>") || !strings.Contains(string(page), "Strategy &#34;atomic&#34;") {
		t.Fatalf("report.html lacks the charts, the recommendation or the SQL: %v", err)
	}
	for _, path := range []string{csvPath, filepath.Join(out, "report.csv")} {
		sheet := readFile(t, path)
		lines := strings.Split(strings.TrimSpace(string(sheet)), "\n")
		if len(lines) != 1+3+6 || !strings.HasPrefix(lines[0], "round,strategy,verdict,rank,") ||
			!strings.HasPrefix(lines[1], "median,"+first.Strategy+",consistent,1,") || !strings.HasPrefix(lines[4], "1,naive,") {
			t.Fatalf("%s: want a header, 3 medians and 6 runs:\n%s", path, sheet)
		}
	}
	for _, want := range []string{"evento: wrote " + filepath.Join(out, "report.json"), "evento: wrote " + csvPath} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

// --out is checked before anything starts: a directory that cannot be
// made fails at once, in one line, with exit 2, no database or server
// started and nothing on stdout. A file where the directory should be
// stops root too, unlike a mode bit.
func TestCompareOutCheckedFirst(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--out", filepath.Join(file, "report")},
		{"--csv", filepath.Join(file, "compare.csv")},
	} {
		start := time.Now()
		// An unreachable database: had compare started anything, it
		// would have said so, or waited for it.
		r := runEvento(t, []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none"}, append([]string{"compare", "--strategies", "atomic"}, args...)...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.exit != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "evento: "+args[0]+" "+args[1]+": ") ||
			!strings.Contains(lines[0], "not a directory") || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", args, r.exit, r.stdout, r.stderr)
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("%v: took %v: something started before the check", args, elapsed)
		}
	}
}
