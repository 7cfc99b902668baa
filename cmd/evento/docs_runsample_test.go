package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// checkVaryingSample holds a run's sample report, whose figures change
// from run to run, to a smaller run of the same command made now: the same
// lines in the same order with the same labels and column headers; the
// counts the doc's flags fix (clients, servers, seed, rooms per hotel,
// hotels); and figures that agree with each other (every verdict is the
// table's, every anomaly line the row it names).
func checkVaryingSample(t *testing.T, b generatedBlock, args []string) {
	t.Helper()
	where := docName(b.path) + ":" + strconv.Itoa(b.line)
	if len(b.body) == 0 || b.body[0] != "$ "+b.command {
		t.Fatalf("%s: the block must start with \"$ %s\"", where, b.command)
	}
	doc := b.body[1:]
	r := runEvento(t, setup(t).env, append(append([]string{}, args...), b.smaller...)...)
	if r.stdout == "" {
		t.Fatalf("%s: the smaller run printed nothing: exit %d\n%s", where, r.exit, r.stderr)
	}
	now := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if got, want := shape(doc), shape(now); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: the sample's lines are not the ones %q prints now (make docs rewrites it):\n--- the doc\n%s\n--- now, with %s\n%s",
			where, b.command, strings.Join(got, "\n"), strings.Join(b.smaller, " "), strings.Join(want, "\n"))
	}
	root := commandTree()
	if err := root.Parse(args); err != nil {
		t.Fatal(err)
	}
	c, _ := failedCommand(root)
	flagValue := func(name string) int {
		n, err := strconv.Atoi(c.FlagSet.Lookup(name).Value.String())
		if err != nil {
			t.Fatalf("--%s: %v", name, err)
		}
		return n
	}
	header := regexp.MustCompile(`^strategy (\S+): (\d+) clients, (\d+) servers?, think \S+, seed (\d+)$`).FindStringSubmatch(doc[0])
	if header == nil {
		t.Fatalf("%s: the first line %q is not a run's", where, doc[0])
	}
	for _, f := range []struct {
		flag, shown string
	}{{"strategy", header[1]}, {"clients", header[2]}, {"servers", header[3]}, {"seed", header[4]}} {
		if want := c.FlagSet.Lookup(f.flag).Value.String(); f.shown != want {
			t.Errorf("%s: the sample shows --%s %s, its command says %s", where, f.flag, f.shown, want)
		}
	}
	checkReportTable(t, where, doc, flagValue("hotels"), flagValue("rooms"))
	checkProseCounts(t, b)
}

// shape is a report's lines with their figures and verdict words left
// out: the labels, the column headers and the order. Anomaly lines and
// notes, which depend on what happened, are left to checkReportTable.
func shape(lines []string) []string {
	figure := regexp.MustCompile(`\d[\d.,]*`)
	verdictWord := regexp.MustCompile(`\b(consistent|overbooked|inconsistent|server-errors|inconclusive|CONSISTENT|OVERBOOKED|INCONSISTENT|SERVER-ERRORS|INCONCLUSIVE)\b`)
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "  - ") || strings.HasPrefix(l, "  note: ") {
			continue
		}
		l = verdictWord.ReplaceAllString(figure.ReplaceAllString(l, "#"), "VERDICT")
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

// checkReportTable holds a sample report's table to its flags (a row per
// hotel, each with --rooms, the total rooms × hotels) and its verdict and
// anomaly lines to its table.
func checkReportTable(t *testing.T, where string, doc []string, hotels, rooms int) {
	t.Helper()
	row := regexp.MustCompile(`^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)$`)
	total := regexp.MustCompile(`^\s+total\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)$`)
	type hotelRow struct{ assigned, reserved, booked, unknown int }
	rows := map[string]hotelRow{}
	sum, totalVerdict, worst := hotelRow{}, "", "consistent"
	for _, l := range doc {
		if m := row.FindStringSubmatch(l); m != nil {
			n := atoiAll(m[3:8])
			h := hotelRow{assigned: n[0], reserved: n[1], booked: n[2], unknown: n[4]}
			rows[m[2]] = h
			sum.assigned, sum.reserved, sum.booked = sum.assigned+h.assigned, sum.reserved+h.reserved, sum.booked+h.booked
			if h.assigned != rooms {
				t.Errorf("%s: hotel %s has %d rooms assigned, the command's --rooms is %d", where, m[2], h.assigned, rooms)
			}
			if over := h.booked > h.assigned; over != (m[8] == "overbooked") {
				t.Errorf("%s: hotel %s booked %d of %d, yet its verdict is %s", where, m[2], h.booked, h.assigned, m[8])
			}
			if m[8] != "consistent" {
				worst = m[8]
			}
		}
		if m := total.FindStringSubmatch(l); m != nil {
			n := atoiAll(m[1:4])
			if n[0] != rooms*hotels || n[0] != sum.assigned || n[1] != sum.reserved || n[2] != sum.booked {
				t.Errorf("%s: the total %v is not the rows' sum %+v nor %d × %d rooms", where, n, sum, hotels, rooms)
			}
			totalVerdict = m[6]
		}
	}
	if len(rows) != hotels {
		t.Errorf("%s: %d rows of hotels, the command's --hotels is %d", where, len(rows), hotels)
	}
	if totalVerdict != worst {
		t.Errorf("%s: the total's verdict %s is not its rows' (%s)", where, totalVerdict, worst)
	}
	overbooked := regexp.MustCompile(`^  - overbooked: hotel (\d+) \(event \d+\) has (\d+) rooms booked of (\d+) assigned \((\d+) too many\)$`)
	lost := regexp.MustCompile(`^  - lost update: at hotel (\d+) \(event \d+\) the counter says (\d+) but (\d+) rooms are booked in reservations$`)
	for _, l := range doc {
		if v, ok := strings.CutPrefix(l, "verdict: "); ok && v != strings.ToUpper(totalVerdict) {
			t.Errorf("%s: %q, but the table's verdict is %s", where, l, totalVerdict)
		}
		if m := overbooked.FindStringSubmatch(l); m != nil {
			n, h := atoiAll(m[2:5]), rows[m[1]]
			if n[0] != h.booked || n[1] != h.assigned || n[2] != h.booked-h.assigned {
				t.Errorf("%s: %q disagrees with hotel %s's row %+v", where, l, m[1], h)
			}
		}
		if m := lost.FindStringSubmatch(l); m != nil {
			n, h := atoiAll(m[2:4]), rows[m[1]]
			if n[0] != h.reserved || n[1] != h.booked {
				t.Errorf("%s: %q disagrees with hotel %s's row %+v", where, l, m[1], h)
			}
		}
	}
}

func atoiAll(s []string) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i], _ = strconv.Atoi(v)
	}
	return out
}
