package explain

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/evento-lab/evento/lab/report"
)

// stepIndent is where a step's SQL and answers start, under its title.
const stepIndent = "           "

// WriteTimeline prints one run: every step with its SQL and answer, the
// final state, its verdict and its cell. Unless wide, lines are wrapped
// within Width columns; wide prints each statement on one line.
func WriteTimeline(w io.Writer, r Run, server string, wide bool) {
	width := Width
	if wide {
		width = 1 << 30
	}
	fit := func(indent, text string) string { return report.Wrap(text, width, indent, indent) }
	fmt.Fprintln(w, fit("", fmt.Sprintf("%s × %s — %s, PostgreSQL %s (%s)", r.Subject, r.Scenario, r.Isolation, server, Probes)))
	if strings.HasPrefix(r.Cell, cellNotApplicable) {
		fmt.Fprintf(w, "%s\n\n", fit("  ", r.Cell))
		return
	}
	for _, e := range r.Events {
		s := r.Steps[e.Step-1]
		switch {
		case e.Complete:
			fmt.Fprintf(w, "  %3s  %s  … step %d completes (after step %d)\n", "", s.Session, s.N, s.CompletedAfter)
		case s.Stmt.Name == "":
			fmt.Fprintln(w, report.Wrap(oneLine(s.SQL), width, fmt.Sprintf("  %3d  %s  ", s.N, s.Session), stepIndent))
		default:
			title := s.Stmt.Name + " (" + s.File + ")"
			for _, p := range s.Params {
				title += " " + p.Name + "=" + p.Value
			}
			fmt.Fprintf(w, "%s\n%s\n", report.Wrap(title, width, fmt.Sprintf("  %3d  %s  ", s.N, s.Session), stepIndent), fit(stepIndent, oneLine(s.SQL)))
		}
		if s.Blocked && !e.Complete {
			fmt.Fprintln(w, fit(stepIndent, "BLOCKED: waits for a lock (pg_stat_activity wait_event_type = Lock)"))
		} else {
			writeAnswer(w, s, fit)
		}
	}
	f := r.Final
	fmt.Fprintln(w, fit("  ", fmt.Sprintf("final: assigned %d, counter %d, rows %d, held %d: %s", f.Assigned, f.Reserved, f.Booked, f.Locked, f.Verdict)))
	fmt.Fprintf(w, "%s\n\n", fit("  ", r.Cell))
}

// writeAnswer prints what a step answered, and what Go made of it.
func writeAnswer(w io.Writer, s Step, fit func(indent, text string) string) {
	switch {
	case s.Error != nil:
		fmt.Fprintln(w, fit(stepIndent, fmt.Sprintf("→ %s %s: %s", s.Error.Severity, s.Error.SQLState, s.Error.Message)))
	case len(s.Columns) > 0:
		fmt.Fprintln(w, fit(stepIndent, "→ "+rowsText(s)))
	}
	if s.Note != "" {
		fmt.Fprintln(w, fit(stepIndent, s.Note))
	}
}

func rowsText(s Step) string {
	if len(s.Rows) == 0 {
		return "0 rows"
	}
	rows := make([]string, len(s.Rows))
	for i, row := range s.Rows {
		var cols []string
		for j, v := range row {
			cols = append(cols, s.Columns[j]+"="+valueOr(v, "NULL"))
		}
		rows[i] = strings.Join(cols, " ")
	}
	return rowCount(len(rows)) + ": " + strings.Join(rows, "; ")
}

// WriteTable prints the strategy × scenario table, n/a reasons below it,
// one line each, so that the cells themselves stay narrow. Unless wide,
// each cell is one word and a legend spells out the ones used, so that the
// table fits Width columns.
func WriteTable(w io.Writer, rep Report, wide bool) {
	width := Width
	if wide {
		width = 1 << 30
	}
	fmt.Fprintf(w, "%s\n\n", report.Wrap(fmt.Sprintf("PostgreSQL %s; each cell is one run of the scenario's schedule (%s)", rep.Server, Probes), width, "", ""))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	short := func(m map[string]string, s string) string { return s }
	header := []string{"strategy", "isolation"}
	if !wide {
		short = func(m map[string]string, s string) string {
			if v, ok := m[s]; ok {
				return v
			}
			return s
		}
		header[1] = "iso"
		second := []string{"", ""}
		for _, sc := range rep.Scenarios {
			top, bottom := headerLines(sc.Name)
			header, second = append(header, top), append(second, bottom)
		}
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		header = second
	} else {
		for _, sc := range rep.Scenarios {
			header = append(header, sc.Name)
		}
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	var used []string // the full cells shown short, in order of appearance
	type reason struct {
		why                 string
		subjects, scenarios []string
	}
	var reasons []reason
	for _, row := range rep.Rows {
		isolation := strings.ToLower(row.Isolation)
		subject := row.Subject
		if !wide {
			// The isolation column tells check-then-act's two rows apart.
			subject, _, _ = strings.Cut(subject, " (")
		}
		cells := []string{subject, short(shortIsolation, isolation)}
		for i, c := range row.Cells {
			if s := short(shortCells, c); s != c && !slices.Contains(used, c) {
				used = append(used, c)
			}
			if why, ok := strings.CutPrefix(c, notApplicableColon); ok {
				c = cellNotApplicable
				at := slices.IndexFunc(reasons, func(r reason) bool { return r.why == why })
				if at < 0 {
					at, reasons = len(reasons), append(reasons, reason{why: why})
				}
				r := &reasons[at]
				r.subjects = appendNew(r.subjects, row.Subject)
				r.scenarios = appendNew(r.scenarios, rep.Scenarios[i].Name)
			}
			cells = append(cells, short(shortCells, c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	if !wide {
		fmt.Fprintln(w)
		lw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range used {
			fmt.Fprintf(lw, "%s\t%s\n", shortCells[c], legend(c))
		}
		var levels []string
		for _, row := range rep.Rows {
			l := strings.ToLower(row.Isolation)
			if s := shortIsolation[l] + " " + l; !slices.Contains(levels, s) {
				levels = append(levels, s)
			}
		}
		fmt.Fprintf(lw, "iso\t%s\n", strings.Join(levels, ", "))
		lw.Flush()
	}
	if len(reasons) > 0 {
		fmt.Fprintln(w)
		for _, r := range reasons {
			fmt.Fprintln(w, report.Wrap(fmt.Sprintf("n/a for %s in %s: %s", strings.Join(r.subjects, ", "), strings.Join(r.scenarios, ", "), r.why), width, "", "  "))
		}
	}
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
