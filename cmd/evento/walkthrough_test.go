package main

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// walkthroughMark precedes a docs code block that TestAPIWalkthroughs
// runs, so that its comments (the statuses, headers and JSON a reader is
// promised) cannot go stale.
const walkthroughMark = "<!-- walkthrough:"

// A step of a walk-through: one command and the comment that says what it
// answers (after its #, and on the indented # lines under it).
type step struct {
	command, promise string
}

// A walkthrough is one marked block: its steps, and the flags of the
// `evento serve` it runs against, named in its mark ("(evento serve
// --auth keys)"; none: the defaults).
type walkthrough struct {
	serve []string
	steps []step
}

var serveFlags = regexp.MustCompile(`\(evento serve ([^)]*)\)`)

// walkthroughs reads every marked ```sh block of a doc into its steps.
func walkthroughs(t *testing.T, path string) []walkthrough {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []walkthrough
	for _, part := range strings.Split(string(raw), walkthroughMark)[1:] {
		mark, body, _ := strings.Cut(part, "```sh\n")
		mark, _, _ = strings.Cut(mark, "-->")
		body, _, _ = strings.Cut(body, "```")
		var w walkthrough
		if m := serveFlags.FindStringSubmatch(mark); m != nil {
			w.serve = strings.Fields(m[1])
		}
		for _, line := range strings.Split(body, "\n") {
			trimmed := strings.TrimSpace(line)
			switch {
			case trimmed == "":
			case strings.HasPrefix(trimmed, "#"):
				if strings.HasPrefix(line, " ") && len(w.steps) > 0 {
					w.steps[len(w.steps)-1].promise += " " + strings.TrimPrefix(trimmed, "#")
				}
			default:
				command, promise, _ := strings.Cut(line, "   #")
				w.steps = append(w.steps, step{command: strings.TrimSpace(command), promise: strings.TrimSpace(promise)})
			}
		}
		blocks = append(blocks, w)
	}
	return blocks
}

var (
	promisedStatus = regexp.MustCompile(`HTTP/1\.1 (\d{3})`)
	promisedHeader = regexp.MustCompile(`\b([A-Z][a-z]+(?:-[A-Z][a-z]+)+): (\S+)`)
	promisedPair   = regexp.MustCompile(`"[a-z_]+":(?:"[^"…]*"|[0-9]+|true|false|null)`)
)

// check holds one step's output to its promise: the status, every header
// named (and its value unless it is a number that moves, as Retry-After
// does), every JSON field given whole.
func (s step) check(out string) []string {
	var broken []string
	if m := promisedStatus.FindStringSubmatch(s.promise); m != nil && !strings.Contains(out, "HTTP/1.1 "+m[1]) {
		broken = append(broken, "status "+m[1])
	}
	lower := strings.ToLower(out)
	for _, m := range promisedHeader.FindAllStringSubmatch(s.promise, -1) {
		want := strings.ToLower(m[1]) + ":"
		if _, err := fmt.Sscan(m[2], new(int)); err != nil {
			want += " " + strings.ToLower(strings.TrimRight(m[2], ",.;"))
		}
		if !strings.Contains(lower, want) {
			broken = append(broken, "header "+m[1])
		}
	}
	for _, pair := range promisedPair.FindAllString(s.promise, -1) {
		if !strings.Contains(out, pair) {
			broken = append(broken, pair)
		}
	}
	return broken
}

// docs/api.md's marked walk-throughs, pasted into a shell in order, as a
// reader would, against real servers on one fresh database (the first
// seeds it): every step's status, headers and JSON are what its comment
// promises. The holds walk-through once set H to a literal handle and
// DELETEd another (404), and the first promised statuses that curl -s
// never shows.
func TestAPIWalkthroughs(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	blocks := walkthroughs(t, "../../docs/api.md")
	if len(blocks) == 0 {
		t.Fatal("docs/api.md marks no walk-through")
	}
	servers := map[string]string{} // serve's flags: its host
	for _, w := range blocks {
		key := strings.Join(w.serve, " ")
		if _, ok := servers[key]; !ok {
			host, err := url.Parse(startServers(t, bundle, 1, w.serve...)[0].URL)
			if err != nil {
				t.Fatal(err)
			}
			servers[key] = host.Host
		}
		// One shell for the block, so that its variables carry; a marker
		// between steps splits the output. ./bin/evento is the binary
		// under test, on the servers' database.
		var script strings.Builder
		for i, s := range w.steps {
			command := strings.ReplaceAll(s.command, "localhost:8080", servers[key])
			command = strings.ReplaceAll(command, "./bin/evento ", `"$EVENTO" `)
			fmt.Fprintf(&script, "echo '@@step %d'\n%s\n", i, command)
		}
		sh := exec.Command("bash", "-c", script.String()+" 2>&1")
		sh.Env = append(os.Environ(), "EVENTO="+evento, "DATABASE_URL="+bundle.url)
		out, err := sh.CombinedOutput()
		if err != nil {
			t.Fatalf("the walk-through failed: %v\n%s", err, out)
		}
		outputs := strings.Split(string(out), "@@step ")[1:]
		if len(outputs) != len(w.steps) {
			t.Fatalf("%d steps, %d outputs:\n%s", len(w.steps), len(outputs), out)
		}
		for i, s := range w.steps {
			if broken := s.check(outputs[i]); len(broken) > 0 {
				t.Errorf("step %q promises %s, but its answer lacks %q:\n%s", s.command, s.promise, broken, outputs[i])
			}
		}
	}
}
