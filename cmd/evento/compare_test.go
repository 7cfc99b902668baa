package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/report"
)

// compare end to end on a small workload: one row per strategy, whose
// numbers are its own run's report, the same seed everywhere, and the
// files --out promises.
func TestCompareTableEqualsTheRuns(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	out := t.TempDir()
	r := runEvento(t, bundle.env, "compare", "--strategies", "naive,atomic,batched",
		"--clients", "40", "--rooms", "15", "--hotels", "2", "--think", "0", "--seed", "11",
		"--race-window", "10ms", "--json", "--out", out)
	if r.exit != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.exit, r.stdout, r.stderr)
	}
	var c report.Comparison
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("stdout is not a comparison: %v\n%s", err, r.stdout)
	}
	if len(c.Rows) != 3 || len(c.Reports) != 3 || c.Workload.Seed != 11 || c.Workload.Clients != 40 {
		t.Fatalf("comparison: %+v", c.Workload)
	}
	eventIDs := map[int64]bool{}
	for i, row := range c.Rows {
		report := c.Reports[i]
		if row.Strategy != report.Strategy || row.Verdict != report.Verdict ||
			row.ReservationsPerSecond != report.ReservationsPerSecond || row.P99Ms != report.LatencyMs.P99 ||
			row.Conflicts != report.Requests.Conflict || row.Errors != report.Requests.Error || report.Seed != 11 {
			t.Fatalf("row %+v does not match its report", row)
		}
		for _, id := range report.EventIDs {
			if eventIDs[id] {
				t.Fatalf("event %d used by two strategies", id)
			}
			eventIDs[id] = true
		}
	}
	if c.Rows[0].Verdict != checker.Overbooked || c.Rows[1].Verdict != checker.Consistent || c.Rows[2].Verdict != checker.Consistent {
		t.Fatalf("verdicts: %s %s %s", c.Rows[0].Verdict, c.Rows[1].Verdict, c.Rows[2].Verdict)
	}
	fastest := c.Rows[1]
	if c.Rows[2].ReservationsPerSecond > fastest.ReservationsPerSecond {
		fastest = c.Rows[2]
	}
	if !fastest.FastestSafe || fastest.RatioToFastestSafe != 1 {
		t.Fatalf("the fastest consistent strategy is not marked: %+v", c.Rows)
	}
	if c.Rows[2].MeanBatchSize < 1 {
		t.Fatalf("batched reported no batches: %+v", c.Rows[2])
	}
	saved, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fromFile report.Comparison
	if err := json.Unmarshal(saved, &fromFile); err != nil || len(fromFile.Rows) != 3 || len(fromFile.Reports) != 3 {
		t.Fatalf("report.json: %v", err)
	}
	for i := range fromFile.Rows {
		if fromFile.Rows[i].Strategy != c.Rows[i].Strategy || fromFile.Rows[i].ReservationsPerSecond != c.Rows[i].ReservationsPerSecond {
			t.Fatalf("report.json row %d differs from stdout: %+v", i, fromFile.Rows[i])
		}
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !strings.Contains(string(page), "throughput-chart") {
		t.Fatalf("report.html: %v", err)
	}
}
