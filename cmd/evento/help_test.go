package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// Every command's --help fits 100 columns: a flag's description goes
// under its name, so that --modes' long default no longer pushes every
// description of serve --help to column 79. The commands come from the
// tree itself, so a new one is checked too.
func TestEveryHelpFits100Columns(t *testing.T) {
	t.Parallel()
	var paths [][]string
	var walk func(c *ffcli.Command, path []string)
	walk = func(c *ffcli.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Subcommands {
			walk(sub, append(append([]string{}, path...), sub.Name))
		}
	}
	walk(newRootCommand(), nil)
	for _, path := range paths {
		r := runEvento(t, nil, append(path, "--help")...)
		if r.exit != 0 || !strings.Contains(r.stdout, "USAGE") {
			t.Errorf("evento %s --help: exit %d\n%s%s", strings.Join(path, " "), r.exit, r.stdout, r.stderr)
			continue
		}
		for _, line := range strings.Split(r.stdout, "\n") {
			if n := utf8.RuneCountInString(line); n > helpWidth {
				t.Errorf("evento %s --help has a line of %d columns:\n%s", strings.Join(path, " "), n, line)
			}
		}
	}
	if len(paths) < 10 {
		t.Fatalf("checked %d commands; the tree has more", len(paths))
	}
}
