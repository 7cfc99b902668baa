package explain

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTimeline prints one run: every step with its SQL and answer, the
// final state, its verdict and its cell.
func WriteTimeline(w io.Writer, r Run, server string) {
	fmt.Fprintf(w, "%s × %s — %s, PostgreSQL %s (%s)\n", r.Subject, r.Scenario, r.Isolation, server, Probes)
	if strings.HasPrefix(r.Cell, cellNotApplicable) {
		fmt.Fprintf(w, "  %s\n\n", r.Cell)
		return
	}
	for _, e := range r.Events {
		s := r.Steps[e.Step-1]
		switch {
		case e.Complete:
			fmt.Fprintf(w, "  %3s  %s  … step %d completes (after step %d)\n", "", s.Session, s.N, s.CompletedAfter)
		case s.Stmt.Name == "":
			fmt.Fprintf(w, "  %3d  %s  %s\n", s.N, s.Session, oneLine(s.SQL))
		default:
			title := s.Stmt.Name + " (" + s.File + ")"
			for _, p := range s.Params {
				title += " " + p.Name + "=" + p.Value
			}
			fmt.Fprintf(w, "  %3d  %s  %s\n           %s\n", s.N, s.Session, title, oneLine(s.SQL))
		}
		if s.Blocked && !e.Complete {
			fmt.Fprintf(w, "           BLOCKED: waits for a lock (pg_stat_activity wait_event_type = Lock)\n")
		} else {
			writeAnswer(w, s)
		}
	}
	f := r.Final
	fmt.Fprintf(w, "  final: assigned %d, counter %d, rows %d, held %d: %s\n", f.Assigned, f.Reserved, f.Booked, f.Locked, f.Verdict)
	fmt.Fprintf(w, "  %s\n\n", r.Cell)
}

// writeAnswer prints what a step answered, and what Go made of it.
func writeAnswer(w io.Writer, s Step) {
	switch {
	case s.Error != nil:
		fmt.Fprintf(w, "           → %s %s: %s\n", s.Error.Severity, s.Error.SQLState, s.Error.Message)
	case len(s.Columns) > 0:
		fmt.Fprintf(w, "           → %s\n", rowsText(s))
	}
	if s.Note != "" {
		fmt.Fprintf(w, "           %s\n", s.Note)
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
// one line each, so that the cells themselves stay narrow.
func WriteTable(w io.Writer, rep Report) {
	fmt.Fprintf(w, "PostgreSQL %s; each cell is one run of the scenario's schedule (%s)\n\n", rep.Server, Probes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{"strategy", "isolation"}
	for _, sc := range rep.Scenarios {
		header = append(header, sc.Name)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	type reason struct {
		why                 string
		subjects, scenarios []string
	}
	var reasons []reason
	for _, row := range rep.Rows {
		cells := []string{row.Subject, strings.ToLower(row.Isolation)}
		for i, c := range row.Cells {
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
			cells = append(cells, c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	if len(reasons) > 0 {
		fmt.Fprintln(w)
		for _, r := range reasons {
			fmt.Fprintf(w, "n/a for %s in %s: %s\n", strings.Join(r.subjects, ", "), strings.Join(r.scenarios, ", "), r.why)
		}
	}
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
