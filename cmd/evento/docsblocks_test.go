package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// userDocs are the documents a user reads: the README and docs/*.md.
// docs/design/ is history, kept as it was written.
func userDocs(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"../../README.md"}, docs...)
}

// docName is a doc's path as a reader of the repository writes it.
func docName(path string) string {
	return strings.TrimPrefix(path, "../../")
}

// fence is one fenced code block of a doc: its info string ("sh", or ""
// for a sample output) and its lines, each with its line number.
type fence struct {
	lang  string
	start int // the line of the opening ```
	lines []docLine
}

type docLine struct {
	n    int
	text string
}

// fences reads every fenced code block of a markdown file.
func fences(t *testing.T, path string) []fence {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var all []fence
	var open *fence
	for i, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case open == nil && strings.HasPrefix(trimmed, "```"):
			open = &fence{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), start: i + 1}
		case open != nil && trimmed == "```":
			all = append(all, *open)
			open = nil
		case open != nil:
			open.lines = append(open.lines, docLine{n: i + 1, text: line})
		}
	}
	if open != nil {
		t.Fatalf("%s:%d: a code block that never closes", docName(path), open.start)
	}
	return all
}

// commandLines are the lines of a block a reader would type: every line
// of a shell block, and in a sample output the "$ " lines and the
// unindented lines that start with a command. A trailing backslash joins
// the next line, as the shell does.
func (f fence) commandLines() []docLine {
	shell := f.lang == "sh" || f.lang == "bash" || f.lang == "shell" || f.lang == "console"
	if !shell && f.lang != "" {
		return nil
	}
	var out []docLine
	for i := 0; i < len(f.lines); i++ {
		l := f.lines[i]
		text := l.text
		for strings.HasSuffix(text, "\\") && i+1 < len(f.lines) {
			i++
			text = strings.TrimSuffix(text, "\\") + " " + strings.TrimSpace(f.lines[i].text)
		}
		switch {
		case strings.HasPrefix(text, "$ "):
			out = append(out, docLine{l.n, strings.TrimPrefix(text, "$ ")})
		case shell:
			out = append(out, docLine{l.n, text})
		case !strings.HasPrefix(text, " ") && isInvocation(firstCommandWords(text)):
			out = append(out, docLine{l.n, text})
		}
	}
	return out
}

// firstCommandWords is the first command of a line, for telling a command
// in a sample output from the output itself.
func firstCommandWords(line string) []string {
	if commands := shellCommands(line); len(commands) > 0 {
		return commands[0]
	}
	return nil
}

// shellCommands splits a command line as sh would, far enough to find the
// commands in it: words with their quotes removed, one slice per simple
// command (split at |, ||, &&, ; and &), leading VAR=value assignments and
// redirections dropped, comments cut, and the commands inside $(…) listed
// as commands of their own (their word stays, as "$(…)").
func shellCommands(line string) [][]string {
	var (
		commands [][]string
		words    []string
		word     strings.Builder
		inWord   bool
	)
	endWord := func() {
		if inWord {
			words = append(words, word.String())
		}
		word.Reset()
		inWord = false
	}
	endCommand := func() {
		endWord()
		if cmd := commandWords(words); len(cmd) > 0 {
			commands = append(commands, cmd)
		}
		words = nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
			inWord = true
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				end = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			// Inside double quotes only $(…) matters here.
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if strings.HasPrefix(line[j:], "$(") {
					inner, next := substitution(line, j)
					commands = append(commands, shellCommands(inner)...)
					word.WriteString("$(…)")
					j = next
					continue
				}
				if line[j] == '\\' && j+1 < len(line) {
					j++
				}
				word.WriteByte(line[j])
				j++
			}
			i = j
			inWord = true
		case strings.HasPrefix(line[i:], "$("):
			inner, next := substitution(line, i)
			commands = append(commands, shellCommands(inner)...)
			word.WriteString("$(…)")
			i = next - 1
			inWord = true
		case c == '#' && !inWord:
			i = len(line)
		case c == ' ' || c == '\t':
			endWord()
		case c == '|' || c == '&' || c == ';':
			if c == '&' && inWord && strings.HasSuffix(word.String(), ">") {
				word.WriteByte(c) // 2>&1
				continue
			}
			endCommand()
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	endCommand()
	return commands
}

// substitution is the text inside the $( that starts at line[i], and the
// index just past its closing parenthesis.
func substitution(line string, i int) (string, int) {
	depth := 0
	for j := i + 1; j < len(line); j++ {
		switch line[j] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return line[i+2 : j], j + 1
			}
		}
	}
	return line[i+2:], len(line)
}

// commandWords drops a command's leading assignments and its redirections.
func commandWords(words []string) []string {
	for len(words) > 0 && isAssignment(words[0]) {
		words = words[1:]
	}
	var kept []string
	for i := 0; i < len(words); i++ {
		w := strings.TrimLeft(words[i], "0123456789")
		if strings.HasPrefix(w, ">") || strings.HasPrefix(w, "<") {
			if w == ">" || w == ">>" || w == "<" {
				i++ // the file is the next word
			}
			continue
		}
		kept = append(kept, words[i])
	}
	return kept
}

func isAssignment(word string) bool {
	name, _, ok := strings.Cut(word, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// eventoArgs is what a command passes to evento, however the doc runs it
// (evento, ./bin/evento, go run ./cmd/evento), and whether it runs evento
// at all.
func eventoArgs(words []string) ([]string, bool) {
	switch {
	case len(words) >= 1 && (words[0] == "evento" || strings.HasSuffix(words[0], "/bin/evento") || words[0] == "bin/evento"):
		return words[1:], true
	case len(words) >= 3 && words[0] == "go" && words[1] == "run" && strings.TrimSuffix(words[2], "/") == "./cmd/evento":
		return words[3:], true
	}
	return nil, false
}

// isInvocation says whether a command runs evento or make.
func isInvocation(words []string) bool {
	_, ok := eventoArgs(words)
	return ok || len(words) > 0 && words[0] == "make"
}
