package main

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// smallerBench is the workload a bench sample is rerun with: one client
// count, one round, one second a series.
var smallerBench = []string{"--clients", "1", "--rounds", "1", "--duration", "1s"}

// Every `evento bench` sample in docs/*.md (and `make bench`'s, through
// the Makefile's command), whose figures vary, holds the shape bench
// prints now: the title, the same columns for its flags, a row per
// --clients value, every "vs pgbench" the ratio of its row's rates, and
// the lines under the table.
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
	rows := 0
	for _, l := range doc[dh+1:] {
		cells := columnGap.Split(strings.TrimSpace(l), -1)
		if len(cells) != len(columns) {
			break
		}
		if rows >= len(wantClients) || cells[0] != wantClients[rows] {
			t.Errorf("%s: a row for %s clients; the command's --clients is %v", where, cells[0], wantClients)
		}
		rows++
		pgbench, _ := strconv.ParseFloat(cells[1], 64)
		for i := 2; i+1 < len(cells); i++ {
			if columns[i+1] != "vs pgbench" {
				continue
			}
			rate, _ := strconv.ParseFloat(cells[i], 64)
			ratio, _ := strconv.ParseFloat(strings.TrimSuffix(cells[i+1], "x"), 64)
			if math.Abs(rate/pgbench-ratio) > 0.011 {
				t.Errorf("%s: %s at %s clients: %s vs pgbench's %s is %.2fx, not %s", where, columns[i], cells[0], cells[i], cells[1], rate/pgbench, cells[i+1])
			}
		}
	}
	if rows != len(wantClients) {
		t.Errorf("%s: %d rows; the command's --clients is %v", where, rows, wantClients)
	}
	// The lines under the table, by their shape.
	under := func(lines []string, from int) []string {
		var out []string
		for _, l := range lines[from:] {
			if l != "" {
				out = append(out, shapeFigure.ReplaceAllString(l, "#"))
			}
		}
		return out
	}
	if got, want := strings.Join(under(doc, dh+1+rows), "\n"), strings.Join(under(now, nh+2), "\n"); got != want {
		t.Errorf("%s: the lines under the table are not the ones bench prints now:\n--- the doc\n%s\n--- now\n%s", where, got, want)
	}
}
