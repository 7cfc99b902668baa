package queries

import (
	"bufio"
	"io/fs"
	"strings"
	"sync"
)

// Statement returns the statement under "-- name: <name> ..." in file, as
// written there but without its comments, blank lines or final semicolon:
// what sqlc compiled, for tools that must run the very same text (pgbench,
// evento explain).
func Statement(file, name string) (string, bool) {
	text, err := Files.ReadFile(file)
	if err != nil {
		return "", false
	}
	var lines []string
	found := false
	scanner := bufio.NewScanner(strings.NewReader(string(text)))
	for scanner.Scan() {
		line := scanner.Text()
		if rest, ok := strings.CutPrefix(line, "-- name: "); ok {
			if found {
				break
			}
			found = strings.HasPrefix(rest, name+" ")
			continue
		}
		if found {
			lines = append(lines, line)
		}
	}
	if !found {
		return "", false
	}
	return Layout(strings.Join(lines, "\n")), true
}

// Layout is a statement's text without its comment lines, blank lines,
// trailing blanks or final semicolon: the layout Statement gives, for a
// statement from elsewhere (sqlc's copy of it) to compare or print alike.
func Layout(text string) string {
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if trimmed := strings.TrimSpace(line); trimmed != "" && !strings.HasPrefix(trimmed, "--") {
			lines = append(lines, strings.TrimRight(line, " \t"))
		}
	}
	return strings.TrimSuffix(strings.TrimSpace(strings.Join(lines, "\n")), ";")
}

// FileOf names the file that holds the statement called name; sqlc's
// names are unique across the package. The index is built once.
func FileOf(name string) (string, bool) {
	file, ok := statementFiles()[name]
	return file, ok
}

var statementFiles = sync.OnceValue(func() map[string]string {
	index := map[string]string{}
	files, _ := fs.Glob(Files, "*.sql")
	for _, f := range files {
		text, _ := Files.ReadFile(f)
		for _, line := range strings.Split(string(text), "\n") {
			if rest, ok := strings.CutPrefix(line, "-- name: "); ok {
				if name, _, ok := strings.Cut(rest, " "); ok {
					index[name] = f
				}
			}
		}
	}
	return index
})
