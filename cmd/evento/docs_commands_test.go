package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// Every command a user is told to type in the README and docs/*.md, in a
// code block, checked against the real command tree without running it:
// the subcommand exists, every flag exists for it and its value parses,
// and the arguments are the ones the command takes; every make target is
// in the Makefile. A flag renamed in the code fails here, naming the doc's
// line.
func TestDocCommands(t *testing.T) {
	t.Parallel()
	targets := makeTargets(t)
	checked := 0
	for _, path := range userDocs(t) {
		for _, f := range fences(t, path) {
			for _, line := range f.commandLines() {
				for _, words := range shellCommands(line.text) {
					var err error
					if args, ok := eventoArgs(words); ok {
						err = checkEventoCommand(args)
					} else if words[0] == "make" {
						err = checkMakeTargets(words[1:], targets)
					} else {
						continue
					}
					checked++
					if err != nil {
						t.Errorf("%s:%d: %s: %v", docName(path), line.n, strings.Join(words, " "), err)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no command found in the docs: the reader of code blocks is broken")
	}
}

// The commands quoted in prose (`evento bench --keys`), usage syntax and
// all: their subcommands and flag names exist. Their values are often
// placeholders (NAME, N, …), so only names are checked.
func TestDocInlineCommands(t *testing.T) {
	t.Parallel()
	targets := makeTargets(t)
	span := regexp.MustCompile("`([^`\n]+)`")
	checked := 0
	for _, path := range userDocs(t) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		inFence := false
		for i, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inFence = !inFence
			}
			if inFence {
				continue
			}
			for _, m := range span.FindAllStringSubmatch(line, -1) {
				words := strings.Fields(strings.ReplaceAll(m[1], `\|`, "|"))
				var err error
				if args, ok := eventoArgs(words); ok {
					err = checkEventoNames(args)
				} else if len(words) > 1 && words[0] == "make" {
					err = checkMakeTargets(words[1:], targets)
				} else {
					continue
				}
				checked++
				if err != nil {
					t.Errorf("%s:%d: `%s`: %v", docName(path), i+1, m[1], err)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no inline command found in the docs")
	}
}

// commandTree is the real command line, as main builds it, minus the
// EVENTO_ variables of the test's environment.
func commandTree() *ffcli.Command {
	root := newRootCommand()
	prepare(root, io.Discard)
	var noEnv func(c *ffcli.Command)
	noEnv = func(c *ffcli.Command) {
		c.Options = nil
		for _, sub := range c.Subcommands {
			noEnv(sub)
		}
	}
	noEnv(root)
	return root
}

// checkEventoCommand parses args as main does, never running the command,
// then holds what is left after the flags to what the command takes.
func checkEventoCommand(args []string) error {
	args = withoutElisions(args)
	root := commandTree()
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		failed, path := failedCommand(root)
		return fmt.Errorf("%s: %v%s", path, err, flagHint(failed, err))
	}
	c, path := failedCommand(root)
	rest := c.FlagSet.Args()
	if len(c.Subcommands) > 0 {
		if len(rest) > 0 {
			return unknownSubcommand(c, rest[0])
		}
		if c != root {
			return fmt.Errorf("%s needs a subcommand", path)
		}
		return nil
	}
	required, any := positionals(c)
	if !any {
		if len(rest) > 0 {
			return fmt.Errorf("%s takes no argument, got %q", path, rest[0])
		}
		return nil
	}
	// The flag package stops at the first argument; the commands that take
	// some read flags after them too.
	given, err := flagsAmongFiles(c.FlagSet, rest)
	if err != nil {
		return fmt.Errorf("%s: %v%s", path, err, flagHint(c, err))
	}
	if len(given) < required {
		return fmt.Errorf("%s is missing an argument (usage: %s)", path, c.ShortUsage)
	}
	return nil
}

// positionals reads a command's usage line for the arguments it takes
// besides flags (evento check --event ID HISTORY [HISTORY...]): how many
// are required, and whether it takes any.
func positionals(c *ffcli.Command) (required int, any bool) {
	usage, _, _ := strings.Cut(c.ShortUsage, "\n")
	valueNext := false
	for _, word := range strings.Fields(usage) {
		optional := strings.HasPrefix(word, "[")
		bare := strings.Trim(word, "[]")
		switch {
		case strings.HasPrefix(bare, "--"):
			name, _, hasValue := strings.Cut(strings.TrimPrefix(bare, "--"), "=")
			f := c.FlagSet.Lookup(name)
			valueNext = !hasValue && f != nil && !isBoolFlag(f)
		case valueNext:
			valueNext = false
		case bare != "" && bare == strings.ToUpper(bare) && strings.ToUpper(bare) != strings.ToLower(bare):
			any = true
			if !optional {
				required++
			}
		}
	}
	return required, any
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// checkEventoNames holds a command quoted in prose to the command tree by
// names alone: each subcommand it walks down, and each --flag it names.
func checkEventoNames(args []string) error {
	c, path := commandTree(), "evento"
	i := 0
	for ; i < len(args); i++ {
		word := strings.Trim(args[i], "[]")
		if strings.HasPrefix(word, "-") || len(c.Subcommands) == 0 || !isLowerWord(word) {
			break
		}
		sub := subcommand(c, word)
		if sub == nil {
			return unknownSubcommand(c, word)
		}
		c, path = sub, path+" "+word
	}
	for _, arg := range args[i:] {
		word := strings.TrimLeft(arg, "[")
		if !strings.HasPrefix(word, "--") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(word, "--"), "=")
		name = strings.TrimRight(name, "]…,.;:")
		if c.FlagSet == nil || c.FlagSet.Lookup(name) == nil {
			err := fmt.Errorf("flag provided but not defined: -%s", name)
			return fmt.Errorf("%s: %v%s", path, err, flagHint(c, err))
		}
	}
	return nil
}

func subcommand(c *ffcli.Command, name string) *ffcli.Command {
	for _, sub := range c.Subcommands {
		if sub.Name == name {
			return sub
		}
	}
	return nil
}

func isLowerWord(s string) bool {
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return s != ""
}

// withoutElisions drops the "…" a doc writes for "the flags above".
func withoutElisions(args []string) []string {
	var kept []string
	for _, a := range args {
		if a != "…" && a != "..." {
			kept = append(kept, a)
		}
	}
	return kept
}

// makeTargets are the Makefile's targets.
func makeTargets(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	rule := regexp.MustCompile(`(?m)^([A-Za-z0-9_-]+):`)
	for _, m := range rule.FindAllStringSubmatch(string(raw), -1) {
		targets[m[1]] = true
	}
	return targets
}

func checkMakeTargets(args []string, targets map[string]bool) error {
	for _, arg := range args {
		if strings.HasPrefix(arg, "-") || isAssignment(arg) {
			continue
		}
		if !targets[arg] {
			return fmt.Errorf("the Makefile has no target %q", arg)
		}
	}
	return nil
}
