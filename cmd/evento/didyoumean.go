package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// closest is the candidate a mistyped name most likely meant: the nearest
// by edit distance, if it is near enough to be a typo (a third of the
// name's letters, at least one), or one that starts with the name; between
// equals, the one nearest in length (--client: --clients, not
// --client-timeout).
func closest(name string, candidates []string) (string, bool) {
	best, bestDistance, bestSpread := "", len(name)/3+1, 0
	for _, c := range candidates {
		d := editDistance(name, c)
		if strings.HasPrefix(c, name) {
			d = min(d, 1)
		}
		spread := max(len(c)-len(name), len(name)-len(c))
		if d < bestDistance || (d == bestDistance && (best == "" || spread < bestSpread)) {
			best, bestDistance, bestSpread = c, d, spread
		}
	}
	return best, best != "" && best != name
}

// editDistance is Levenshtein's: the fewest insertions, deletions and
// substitutions that turn a into b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// unknownSubcommand refuses name among c's subcommands, naming the one it
// most likely meant and every one there is.
func unknownSubcommand(c *ffcli.Command, name string) error {
	var names []string
	for _, sub := range c.Subcommands {
		names = append(names, sub.Name)
	}
	hint := ""
	if guess, ok := closest(name, names); ok {
		hint = fmt.Sprintf("; did you mean %q?", guess)
	}
	return usagef("unknown subcommand %q%s (%s subcommands: %s)", name, hint, c.Name, strings.Join(names, ", "))
}

// failedCommand is the command whose flags failed to parse, and its path
// ("evento clients add"): the deepest one whose flag set was asked to
// parse (the flag package marks a set parsed before it reads a flag).
func failedCommand(root *ffcli.Command) (*ffcli.Command, string) {
	c, path := root, root.Name
	for {
		next := c
		for _, sub := range c.Subcommands {
			if sub.FlagSet != nil && sub.FlagSet.Parsed() {
				next = sub
			}
		}
		if next == c {
			return c, path
		}
		c, path = next, path+" "+next.Name
	}
}

// flagHint names the flag an undefined one most likely meant, for the flag
// package's "flag provided but not defined: -client".
func flagHint(c *ffcli.Command, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok || c.FlagSet == nil {
		return ""
	}
	var names []string
	c.FlagSet.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if guess, ok := closest(strings.TrimPrefix(name, "-"), names); ok {
		return fmt.Sprintf("; did you mean --%s?", guess)
	}
	return ""
}
