package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/lab/nemesis"
	"github.com/evento-lab/evento/lab/report"
)

// Excerpts of a run's report in docs/*.md ("faults: 3 injected, …",
// "database: peak …"), whose figures come from runs too long to repeat in
// a test, hold the report's lines as its formatter prints them now: each
// line they show, figures, fault names and "…" aside, is a line the
// report can print.
func TestReportExcerptsOfTheDocs(t *testing.T) {
	t.Parallel()
	var printable []string
	labels := map[string]bool{}
	for _, l := range reportLines(t) {
		printable = append(printable, reportLineShape(l))
		if label, _, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, " ") {
			labels[label] = true
		}
	}
	excerpts := 0
	for _, path := range userDocs(t) {
		for _, f := range fences(t, path) {
			if f.lang != "" || len(f.lines) == 0 || strings.HasPrefix(f.lines[0].text, "$ ") || !showsALabel(f, labels) {
				continue
			}
			excerpts++
			for _, l := range f.lines {
				shape := reportLineShape(annotation.ReplaceAllString(l.text, ""))
				if shape == "" || shape == "…" || matchesOne(shape, printable) {
					continue
				}
				t.Errorf("%s:%d: %q is not a line the report prints now (%q)", docName(path), l.n, l.text, shape)
			}
		}
	}
	if excerpts == 0 {
		t.Fatal("no excerpt of a report in the docs")
	}
}

// annotation is a doc's comment after a sample line ("   # closed, …").
var annotation = regexp.MustCompile(`\s{2,}#.*$`)

// showsALabel says whether a block shows a line of a report (a label the
// report prints at its start, as "database:").
func showsALabel(f fence, labels map[string]bool) bool {
	for _, l := range f.lines {
		if label, _, ok := strings.Cut(l.text, ":"); ok && labels[label] {
			return true
		}
	}
	return false
}

func matchesOne(shape string, printable []string) bool {
	pattern := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(shape), "…", ".*") + "$")
	for _, p := range printable {
		if pattern.MatchString(p) {
			return true
		}
	}
	return false
}

var (
	shapeFigure  = regexp.MustCompile(`\d[\d.,]*`)
	shapeFault   = regexp.MustCompile(`^(#s) [a-z-]+(?: \([^)]*\))?`)
	shapeVerdict = regexp.MustCompile(`^verdict: [A-Z-]+$`)
)

// reportLineShape is a report line with what varies from run to run left
// out: figures, the fault and its target, what a note or an anomaly says,
// the verdict's word.
func reportLineShape(line string) string {
	s := strings.Join(strings.Fields(shapeFigure.ReplaceAllString(line, "#")), " ")
	s = shapeFault.ReplaceAllString(s, "$1 FAULT")
	s = shapeVerdict.ReplaceAllString(s, "verdict: VERDICT")
	for _, prefix := range []string{"note: ", "- "} {
		if strings.HasPrefix(s, prefix) {
			s = prefix + "…"
		}
	}
	return s
}

// reportLines is every line a run's text report can print, from the real
// formatter: reports with each optional part, in each of its forms.
func reportLines(t *testing.T) []string {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sellout := 1.5
	faults := []nemesis.Event{
		{Fault: "kill-server", Target: "server 1", Start: start.Add(time.Second), Heal: start.Add(2 * time.Second)},
		{Fault: "crash-postgres", Start: start.Add(3 * time.Second), Heal: start.Add(4 * time.Second), Error: "it failed"},
		{Fault: "lose-replies", Target: "3 replies", Start: start.Add(5 * time.Second), Heal: start.Add(6 * time.Second)},
	}
	base := func() report.Report {
		r := report.Report{
			Strategy: "atomic", Clients: 2, Servers: 2, Think: "0s-300ms", Seed: 1, Auth: "none",
			Hotels:    []report.HotelReport{{EventID: 1, HotelID: 1, Assigned: 2, Verdict: "consistent"}},
			Totals:    report.HotelReport{Assigned: 2, Verdict: "consistent"},
			Verdict:   "consistent",
			Anomalies: []string{"an anomaly"}, Notes: []string{"a note"},
			StartedAt: start, SelloutSeconds: &sellout,
			Database: &report.DatabaseStats{PeakClientBackends: 3},
			Server:   &report.ServerStats{Batches: 2, BatchedRequests: 4},
		}
		r.Replayed = 1
		r.Holds.Placed = 1
		r.Totals.SoldOut = true
		return r
	}
	var variants []report.Report
	plain := base()
	variants = append(variants, plain)
	other := base()
	other.Rate, other.Requests.Cancelled, other.SelloutSeconds = 300, 1, nil
	other.Database.PgBouncerPool = 20
	other.SetFaults(faults, nil)
	other.FaultWindows[0].Errors = 1
	variants = append(variants, other)
	unsold := base()
	unsold.Totals.SoldOut = false
	variants = append(variants, unsold)

	var lines []string
	for _, r := range variants {
		var b strings.Builder
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(b.String(), "\n")...)
	}
	return lines
}
