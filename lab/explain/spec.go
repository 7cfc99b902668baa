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
	name := slug(r.Subject) + "_" + r.Scenario
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
	return Spec{Name: name, Spec: b.String(), Expected: expected(r, len(sessions))}, true
}

// expected is what isolationtester prints for the run's permutation.
func expected(r Run, sessions int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Parsed test spec with %d sessions\n\nstarting permutation: %s\n", sessions, strings.Join(r.Permutation(), " "))
	for _, e := range r.Events {
		s := r.Steps[e.Step-1] // steps are numbered from 1, in order
		if e.Complete {
			fmt.Fprintf(&b, "step %s: <... completed>\n", s.Name)
			printAnswer(&b, s)
			continue
		}
		fmt.Fprintf(&b, "step %s: %s", s.Name, s.SQL)
		if s.Blocked {
			b.WriteString(" <waiting ...>\n")
			continue
		}
		b.WriteString("\n")
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
