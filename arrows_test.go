package evento_test

import (
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	module    = "github.com/evento-lab/evento"
	archDoc   = "docs/architecture.md"
	archTable = "| package | its one job | imports (of ours) |"
)

var (
	backticked    = regexp.MustCompile("`([^`]+)`")
	parenthesised = regexp.MustCompile(`\([^()]*\)`)
)

// TestArchitectureTable holds docs/architecture.md's package table to the
// code: every package of the module has exactly one row, and the row's last
// column names exactly the module's packages it imports. Only non-test
// imports count: the table says what a package needs to be built, while
// tests may reach across the layers (db's tests drive api, api's tests seed
// through db/labdb) and would make arrows point both ways. It lives at the
// module root, where `go list ./...` and docs/architecture.md need no path
// juggling; `make check-arrows` runs it alone, `make test` too.
func TestArchitectureTable(t *testing.T) {
	rows := readPackageTable(t)
	// go test puts its own GOROOT/bin first on a test's PATH, so this is
	// the go that runs the test.
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	actual := map[string][]string{} // each package's imports of ours, by their names in the table
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg, _ := tableName(fields[0])
		actual[pkg] = []string{}
		for _, imp := range fields[1:] {
			if name, ok := tableName(imp); ok {
				actual[pkg] = append(actual[pkg], name)
			}
		}
	}
	if len(actual) == 0 {
		t.Fatal("go list ./... found no packages")
	}

	for _, pkg := range slices.Sorted(maps.Keys(actual)) {
		imports := actual[pkg]
		row, ok := rows[pkg]
		if !ok {
			t.Errorf("%s: package `%s` has no row in the package table; add one, imports (of ours): %s",
				archDoc, pkg, arrows(imports))
			continue
		}
		if missing := minus(imports, row); len(missing) > 0 {
			t.Errorf("%s: row `%s` lacks %s, which it imports", archDoc, pkg, arrows(missing))
		}
		if extra := minus(row, imports); len(extra) > 0 {
			t.Errorf("%s: row `%s` lists %s, which it does not import", archDoc, pkg, arrows(extra))
		}
	}
	for _, pkg := range slices.Sorted(maps.Keys(rows)) {
		if _, ok := actual[pkg]; !ok {
			t.Errorf("%s: row `%s` names no package of the module (removed or renamed?); delete or rename the row", archDoc, pkg)
		}
	}
}

// tableName is how the table names one of our packages: its path inside the
// module, and `evento` for the root. ok is false for anything else.
func tableName(importPath string) (name string, ok bool) {
	if importPath == module {
		return "evento", true
	}
	return strings.CutPrefix(importPath, module+"/")
}

// readPackageTable reads the table that starts with archTable: the package
// of each row (its first cell's one backticked name outside parentheses)
// and its arrows (every backticked name in its last cell outside
// parentheses). So a row can say "nothing", or explain an arrow in a note
// that names a function in backticks, without either becoming an arrow. A
// malformed row is an error, not the end: the other rows are still checked.
func readPackageTable(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile(archDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	in := false
	for line := range strings.Lines(string(doc)) {
		line = strings.TrimSpace(line)
		if !in {
			in = line == archTable
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break // the table's end
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if strings.Trim(cells[0], " -") == "" {
			continue // the |---|---| line under the header
		}
		// First and last cell only: a `|` inside the job's prose cannot
		// shift them.
		names := arrowNames(cells[0])
		if len(names) != 1 {
			t.Errorf("%s: one package per row, in backticks, in the first cell; split or fix: %s", archDoc, line)
			continue
		}
		if _, dup := rows[names[0]]; dup {
			t.Errorf("%s: two rows for `%s`; keep one", archDoc, names[0])
		}
		rows[names[0]] = arrowNames(cells[len(cells)-1])
	}
	if !in {
		t.Fatalf("%s: no line %s (the package table's header)", archDoc, archTable)
	}
	return rows
}

// arrowNames is a cell's backticked names outside parentheses.
func arrowNames(cell string) []string {
	// Innermost parentheses first, until none is left, so nested notes go too.
	for parenthesised.MatchString(cell) {
		cell = parenthesised.ReplaceAllString(cell, "")
	}
	names := []string{}
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		names = append(names, m[1])
	}
	return names
}

// minus is a's names that b lacks.
func minus(a, b []string) []string {
	return slices.DeleteFunc(slices.Clone(a), func(s string) bool { return slices.Contains(b, s) })
}

// arrows writes names as a row's cell would, sorted: `a`, `b`; or "nothing".
func arrows(names []string) string {
	if len(names) == 0 {
		return "nothing"
	}
	return "`" + strings.Join(slices.Sorted(slices.Values(names)), "`, `") + "`"
}
