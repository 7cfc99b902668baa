package main

import (
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// smallerBench is the workload a bench sample is rerun with: one client
// count, one round, one second a series.
var smallerBench = []string{"--clients", "1", "--rounds", "1", "--duration", "1s"}

// Every `evento bench` sample in docs/*.md (and `make bench`'s, through
// the Makefile's command), whose figures vary, holds the shape bench
// prints now: the title, the same columns for its flags, rows for each
// --clients value, every "vs pgbench" the ratio of its row's rate to
// pgbench's at that client count, and the lines under the table.
func TestBenchSamplesOfTheDocs(t *testing.T) {
	t.Parallel()
	found := 0
	for _, path := range userDocs(t) {
		for _, f := range fences(t, path) {
			if len(f.lines) == 0 {
				continue
			}
			command, isSample := strings.CutPrefix(f.lines[0].text, "$ ")
			if !isSample {
				continue
			}
			words := firstCommandWords(command)
			if len(words) == 2 && words[0] == "make" {
				words = makeRecipe(t, words[1])
			}
			args, ok := eventoArgs(words)
			if !ok || len(args) == 0 || args[0] != "bench" {
				continue
			}
			found++
			where := docName(path) + ":" + strconv.Itoa(f.lines[0].n)
			var doc []string
			for _, l := range f.lines[1:] {
				doc = append(doc, l.text)
			}
			t.Run(where, func(t *testing.T) {
				t.Parallel()
				if _, err := os.Stat("/usr/lib/postgresql"); err != nil {
					t.Skip("no PostgreSQL install to find pgbench in")
				}
				run := append(append(append([]string{}, args...), smallerBench...), "--out", t.TempDir())
				r := runEvento(t, setup(t).env, run...)
				if r.exit != 0 {
					t.Fatalf("exit %d\n%s", r.exit, r.stderr)
				}
				checkBenchSample(t, where, args, doc, strings.Split(strings.TrimRight(r.stdout, "\n"), "\n"))
			})
		}
	}
	if found == 0 {
		t.Fatal("no bench sample in the docs")
	}
}

// makeRecipe is the command a Makefile target runs evento with.
func makeRecipe(t *testing.T, target string) []string {
	t.Helper()
	raw, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, target+":"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			for _, words := range shellCommands(strings.ReplaceAll(line, "$(GO)", "go")) {
				if _, ok := eventoArgs(words); ok {
					return words
				}
			}
		case in:
			in = false
		}
	}
	return nil
}

var columnGap = regexp.MustCompile(`\s{2,}`)

func checkBenchSample(t *testing.T, where string, args, doc, now []string) {
	t.Helper()
	root := commandTree()
	if err := root.Parse(args); err != nil {
		t.Fatal(err)
	}
	c, _ := failedCommand(root)
	if len(doc) < 3 || len(now) < 3 {
		t.Fatalf("%s: too short a sample:\n%s\nnow:\n%s", where, strings.Join(doc, "\n"), strings.Join(now, "\n"))
	}
	// The header: the first line that starts with "clients".
	headerAt := func(lines []string) int {
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "clients ") {
				return i
			}
		}
		return -1
	}
	dh, nh := headerAt(doc), headerAt(now)
	if dh < 0 || nh < 0 {
		t.Fatalf("%s: no table header in the sample or in bench's output:\n%s", where, strings.Join(now, "\n"))
	}
	// The title, when the sample shows it.
	if got, want := shapeFigure.ReplaceAllString(doc[0], "#"), shapeFigure.ReplaceAllString(now[0], "#"); dh > 0 && got != want {
		t.Errorf("%s: the title %q is not the shape bench prints now: %q", where, doc[0], now[0])
	}
	columns := columnGap.Split(strings.TrimSpace(doc[dh]), -1)
	if got, want := strings.Join(columns, "|"), strings.Join(columnGap.Split(strings.TrimSpace(now[nh]), -1), "|"); got != want {
		t.Errorf("%s: the table's columns are %q; bench prints %q for the same flags", where, got, want)
	}
	wantClients := strings.Split(c.FlagSet.Lookup("clients").Value.String(), ",")
	// One row per measurement: its client count, what was measured, its
	// rate, and the rate over pgbench's at the same client count.
	rate, vs := slices.Index(columns, "booked/s"), slices.Index(columns, "vs pgbench")
	if rate < 0 || vs < 0 {
		t.Fatalf("%s: no booked/s or vs pgbench column in %q", where, columns)
	}
	tableRows := func(lines []string, header int) [][]string {
		var rows [][]string
		for _, l := range lines[header+1:] {
			cells := columnGap.Split(strings.TrimSpace(l), -1)
			if len(cells) != len(columns) {
				break
			}
			rows = append(rows, cells)
		}
		return rows
	}
	rows := tableRows(doc, dh)
	var clients []string
	pgbench := map[string]float64{}
	for _, cells := range rows {
		if len(clients) == 0 || clients[len(clients)-1] != cells[0] {
			clients = append(clients, cells[0])
		}
		if cells[1] == "pgbench" {
			pgbench[cells[0]], _ = strconv.ParseFloat(cells[rate], 64)
		}
	}
	if !slices.Equal(clients, wantClients) {
		t.Errorf("%s: rows for %v clients; the command's --clients is %v", where, clients, wantClients)
	}
	for _, cells := range rows {
		base, ok := pgbench[cells[0]]
		if cells[1] == "pgbench" || !ok {
			continue
		}
		r, _ := strconv.ParseFloat(cells[rate], 64)
		ratio, _ := strconv.ParseFloat(strings.TrimSuffix(cells[vs], "x"), 64)
		if math.Abs(r/base-ratio) > 0.011 {
			t.Errorf("%s: %s at %s clients: %s vs pgbench's %.0f is %.2fx, not %s", where, cells[1], cells[0], cells[rate], base, r/base, cells[vs])
		}
	}
	// The lines under the table, by their shape.
	under := func(lines []string, from int) []string {
		var out []string
		for _, l := range lines[from:] {
			// One line per client count: the rerun has one, the doc more.
			if shape := shapeFigure.ReplaceAllString(l, "#"); l != "" && !slices.Contains(out, shape) {
				out = append(out, shape)
			}
		}
		return out
	}
	if got, want := strings.Join(under(doc, dh+1+len(rows)), "\n"), strings.Join(under(now, nh+1+len(tableRows(now, nh))), "\n"); got != want {
		t.Errorf("%s: the lines under the table are not the ones bench prints now:\n--- the doc\n%s\n--- now\n%s", where, got, want)
	}
}
