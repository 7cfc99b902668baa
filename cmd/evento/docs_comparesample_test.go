package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// smallerCompare is the workload a compare sample is rerun with: its
// figures are not the doc's anyway, only its shape is.
var smallerCompare = []string{"--clients", "10", "--rooms", "20", "--strategies", "atomic,naive"}

// Every `evento compare` sample in docs/*.md, whose figures vary from run
// to run, holds the shape compare prints now: the workload line (with the
// counts the sample's own flags fix), the table's columns, a row for each
// strategy its --strategies names with a rank its verdict allows, and the
// labels of the lines under it.
func TestCompareSamplesOfTheDocs(t *testing.T) {
	t.Parallel()
	found := 0
	for _, path := range userDocs(t) {
		for _, f := range fences(t, path) {
			if len(f.lines) == 0 || !strings.HasPrefix(f.lines[0].text, "$ evento compare ") {
				continue
			}
			found++
			where := docName(path) + ":" + strconv.Itoa(f.lines[0].n)
			doc := make([]string, 0, len(f.lines)-1)
			for _, l := range f.lines[1:] {
				doc = append(doc, l.text)
			}
			args, _ := eventoArgs(firstCommandWords(strings.TrimPrefix(f.lines[0].text, "$ ")))
			t.Run(where, func(t *testing.T) {
				t.Parallel()
				// --out last: the sample's own would write into the source tree.
				r := runEvento(t, setup(t).env, append(append(append([]string{}, args...), smallerCompare...), "--out", t.TempDir())...)
				if r.exit != 0 {
					t.Fatalf("exit %d\n%s", r.exit, r.stderr)
				}
				checkCompareSample(t, where, args, doc, strings.Split(strings.TrimRight(r.stdout, "\n"), "\n"))
			})
		}
	}
	if found == 0 {
		t.Fatal("no compare sample in the docs")
	}
}

var (
	compareWorkload = regexp.MustCompile(`^(\d+) clients, (\d+) servers \(pool \d+\), (\d+) hotels x (\d+) rooms, think \S+, seed (\d+); a fresh event per run(?:, (\d+) rounds interleaved)?$`)
	compareRow      = regexp.MustCompile(`^\s+(\S+)\s+(consistent|overbooked|inconsistent|server-errors|inconclusive)\s+.*\s(fastest|unsafe|[\d.]+x)$`)
	figures         = regexp.MustCompile(`\d[\d.,]*`)
)

func checkCompareSample(t *testing.T, where string, args, doc, now []string) {
	t.Helper()
	root := commandTree()
	if err := root.Parse(args); err != nil {
		t.Fatal(err)
	}
	c, _ := failedCommand(root)
	flagValue := func(name string) string { return c.FlagSet.Lookup(name).Value.String() }

	// The workload: the lines before "commit …", as one.
	docWorkload, nowWorkload := paragraphBefore(doc, "commit "), paragraphBefore(now, "commit ")
	if figures.ReplaceAllString(docWorkload, "#") != figures.ReplaceAllString(nowWorkload, "#") {
		t.Errorf("%s: the workload line %q is not the shape compare prints now: %q", where, docWorkload, nowWorkload)
	}
	if m := compareWorkload.FindStringSubmatch(docWorkload); m == nil {
		t.Errorf("%s: the workload line %q is not a compare's", where, docWorkload)
	} else {
		rounds := m[6]
		if rounds == "" {
			rounds = "1"
		}
		for i, name := range []string{"clients", "servers", "hotels", "rooms", "seed", "rounds"} {
			shown := append(m[1:6:6], rounds)[i]
			if shown != flagValue(name) {
				t.Errorf("%s: the sample shows --%s %s, its command says %s", where, name, shown, flagValue(name))
			}
		}
	}

	// The table: the same columns, a row per strategy compared.
	header := func(lines []string) string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "strategy" && f[1] == "verdict" {
				return strings.Join(f, " ")
			}
		}
		return ""
	}
	if got, want := header(doc), header(now); got != want || got == "" {
		t.Errorf("%s: the table's columns are %q; compare prints %q", where, got, want)
	}
	want, err := parseStrategies(flagValue("strategies"))
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var rows []string
	fastest := 0
	for _, l := range doc {
		m := compareRow.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		rows = append(rows, m[1])
		if (m[2] == "consistent") == (m[3] == "unsafe") {
			t.Errorf("%s: %s is %s, yet ranked %s", where, m[1], m[2], m[3])
		}
		if m[3] == "fastest" {
			fastest++
		}
	}
	slices.Sort(rows)
	slices.Sort(want)
	if !slices.Equal(rows, want) {
		t.Errorf("%s: the table's rows are %v; its --strategies compares %v", where, rows, want)
	}
	if fastest != 1 {
		t.Errorf("%s: %d rows ranked fastest, want one", where, fastest)
	}

	// The lines under the table: each label the sample shows, compare prints.
	labels := func(lines []string) map[string]bool {
		set := map[string]bool{}
		for _, l := range lines {
			if label, _, ok := strings.Cut(l, ":"); ok && l != "" && l[0] != ' ' && !strings.ContainsAny(label, "0123456789") {
				set[label] = true
			}
		}
		return set
	}
	nowLabels := labels(now)
	for label := range labels(doc) {
		if !nowLabels[label] {
			t.Errorf("%s: the sample shows a line %q that compare no longer prints", where, label+":")
		}
	}
}

// paragraphBefore is the lines before the first one starting with prefix,
// joined into one.
func paragraphBefore(lines []string, prefix string) string {
	var before []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			break
		}
		before = append(before, strings.TrimSpace(l))
	}
	return strings.Join(before, " ")
}
