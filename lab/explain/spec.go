package explain

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Spec is one run as an isolation-tester spec and the output
// isolationtester must print for it, rendered from the run itself: if
// PostgreSQL ever answered differently (another row, a wait that does not
// happen, another error), pg_isolation_regress shows the difference.
type Spec struct {
	Name     string // the test's name in the schedule
	Spec     string
	Expected string
}

// SpecOf writes a run as a spec. Runs that did not happen (n/a) have none.
func SpecOf(r Run) (Spec, bool) {
	if len(r.Steps) == 0 {
		return Spec{}, false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s × %s (%s), written by `evento explain --spec` from its own run.\n", r.Subject, r.Scenario, r.Isolation)
	fmt.Fprintf(&b, "# Final state of that run: %s. Cell: %s.\n", r.Final.Verdict, r.Cell)
	b.WriteString("# Run against a migrated Evento database it may empty (setup truncates).\n\n")
	fmt.Fprintf(&b, "setup\n{\n%s\n}\n", strings.Join(r.Setup, "\n"))
	sessions := []string{}
	for _, s := range r.Steps {
		if !slices.Contains(sessions, s.Session) {
			sessions = append(sessions, s.Session)
		}
	}
	for _, session := range sessions {
		fmt.Fprintf(&b, "\nsession %q\nsetup { %s }\n", session, sessionSetup)
		for _, s := range r.Steps {
			if s.Session == session {
				fmt.Fprintf(&b, "step %q { %s }\n", s.Name, s.SQL)
			}
		}
	}
	b.WriteString("\npermutation")
	for _, n := range r.Permutation() {
		fmt.Fprintf(&b, " %q", n)
	}
	b.WriteString("\n")
	return Spec{Name: slug(r.Subject) + "_" + r.Scenario, Spec: b.String(), Expected: expected(r, len(sessions))}, true
}

// expected is what isolationtester prints for the run's permutation.
func expected(r Run, sessions int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Parsed test spec with %d sessions\n\nstarting permutation: %s\n", sessions, strings.Join(r.Permutation(), " "))
	for _, e := range r.Events {
		s := r.Steps[e.Step-1] // steps are numbered from 1, in order
		switch {
		case e.Complete:
			fmt.Fprintf(&b, "step %s: <... completed>\n", s.Name)
		case s.Blocked:
			fmt.Fprintf(&b, "step %s: %s <waiting ...>\n", s.Name, s.SQL)
			continue
		default:
			fmt.Fprintf(&b, "step %s: %s\n", s.Name, s.SQL)
		}
		printAnswer(&b, s)
	}
	return b.String()
}

// printAnswer prints a step's answer as isolationtester does: its error
// ("ERROR:  message"), or its rows through libpq's PQprint.
func printAnswer(b *strings.Builder, s Step) {
	if s.Error != nil {
		fmt.Fprintf(b, "%s:  %s\n", s.Error.Severity, s.Error.Message)
		return
	}
	if len(s.Columns) > 0 {
		b.WriteString(pqPrint(s.Columns, s.Rows))
	}
}

// WriteSpecs lays the runs out for pg_isolation_regress --inputdir dir
// --schedule dir/schedule: dir/specs/*.spec, dir/expected/*.out, and the
// schedule, one test a line, since every test empties the same database.
func WriteSpecs(dir string, runs []Run) ([]Spec, error) {
	var specs []Spec
	for _, r := range runs {
		if s, ok := SpecOf(r); ok {
			specs = append(specs, s)
		}
	}
	for _, sub := range []string{"specs", "expected"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("write specs: %w", err)
		}
	}
	var schedule strings.Builder
	for _, s := range specs {
		if err := os.WriteFile(filepath.Join(dir, "specs", s.Name+".spec"), []byte(s.Spec), 0o644); err != nil {
			return nil, fmt.Errorf("write spec: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "expected", s.Name+".out"), []byte(s.Expected), 0o644); err != nil {
			return nil, fmt.Errorf("write expected output: %w", err)
		}
		fmt.Fprintf(&schedule, "test: %s\n", s.Name)
	}
	if err := os.WriteFile(filepath.Join(dir, "schedule"), []byte(schedule.String()), 0o644); err != nil {
		return nil, fmt.Errorf("write schedule: %w", err)
	}
	return specs, nil
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes a subject a test name: "check-then-act (read committed)"
// becomes "check-then-act-read-committed".
func slug(s string) string {
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// pqPrint renders rows as isolationtester prints them: libpq's PQprint
// with header, align and "|" between fields (src/interfaces/libpq/
// fe-print.c). A column is numeric, and right-aligned, when every
// non-empty value is made of digits, '.', 'e', 'E', ' ' and '-', starts
// with no 'e' and ends with a digit; widths count bytes, as C does.
func pqPrint(columns []string, rows [][]*string) string {
	width := make([]int, len(columns))
	numeric := make([]bool, len(columns))
	for j, c := range columns {
		width[j], numeric[j] = len(c), true
	}
	for _, row := range rows {
		for j, v := range row {
			if v != nil && *v != "" { // PQprint skips empty values: they decide nothing
				width[j] = max(width[j], len(*v))
				numeric[j] = numeric[j] && looksNumeric(*v)
			}
		}
	}
	var b strings.Builder
	line := func(sep string, cell func(j int) string) {
		cells := make([]string, len(columns))
		for j := range cells {
			cells[j] = fmt.Sprintf("%-*s", width[j], cell(j))
			if numeric[j] {
				cells[j] = fmt.Sprintf("%*s", width[j], cell(j))
			}
		}
		b.WriteString(strings.Join(cells, sep) + "\n")
	}
	line("|", func(j int) string { return columns[j] })
	line("+", func(j int) string { return strings.Repeat("-", width[j]) })
	for _, row := range rows {
		line("|", func(j int) string { return valueOr(row[j], "") })
	}
	return b.String() + "(" + rowCount(len(rows)) + ")\n\n"
}

// valueOr is *v, or null when v is NULL.
func valueOr(v *string, null string) string {
	if v == nil {
		return null
	}
	return *v
}

// rowCount is "1 row" or "n rows".
func rowCount(n int) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

func looksNumeric(v string) bool {
	last := byte('0')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'E' || c == 'e' || c == ' ' || c == '-') {
			return false
		}
		last = c
	}
	return v[0] != 'E' && v[0] != 'e' && last >= '0' && last <= '9'
}
