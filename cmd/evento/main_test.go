package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/lab/cluster"
	"github.com/evento-lab/evento/lab/report"
)

// evento is the real binary, built once for the package: the end-to-end
// tests run it as a user would, server processes and all.
var evento string

func TestMain(m *testing.M) {
	flag.Parse()
	raiseParallelism()
	dir, err := os.MkdirTemp("", "evento-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	evento = filepath.Join(dir, "evento")
	build := exec.Command("go", append(append([]string{"build"}, raceFlags...), "-o", evento, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build evento: %v\n", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	dbtest.Main(m)
}

// testBundle is one end-to-end test's world: a database of its own, so
// that tests running the binary in parallel never see each other's events.
type testBundle struct {
	url string   // the test's database
	env []string // DATABASE_URL pointing at it, for runEvento
}

// setup gives a test its own fresh, migrated database.
func setup(t *testing.T) *testBundle {
	t.Helper()
	url := dbtest.NewURL(t)
	return &testBundle{url: url, env: []string{"DATABASE_URL=" + url}}
}

// raiseParallelism lets four end-to-end tests run at once unless -parallel
// was given. Each spends most of its time waiting on processes (servers
// starting, PostgreSQL, sweeps and sleeps), not computing: at GOMAXPROCS
// (2 on CI) the package took 31 s with the machine half idle, at 4 it takes
// 21 s. Every test has a database of its own (setup), so none sees another.
func raiseParallelism() {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(max(4, runtime.GOMAXPROCS(0))))
	}
}

type runResult struct {
	exit   int
	stdout string
	stderr string
}

// runEvento runs the binary with args and extra environment.
func runEvento(t *testing.T, env []string, args ...string) runResult {
	t.Helper()
	return runEventoWithin(t, 2*time.Minute, env, args...)
}

// runEventoWithin is runEvento with a deadline of its own, for runs that
// wait out faults (a PostgreSQL restarting on a loaded machine is slow).
func runEventoWithin(t *testing.T, limit time.Duration, env []string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, evento, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	exit := 0
	if err != nil {
		exitErr, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run evento %v: %v", args, err)
		}
		exit = exitErr.ExitCode()
	}
	return runResult{exit: exit, stdout: stdout.String(), stderr: stderr.String()}
}

// decodeReport is decodeJSON for a run's report.
func decodeReport(t *testing.T, r runResult, exit int) report.Report {
	t.Helper()
	return decodeJSON[report.Report](t, r, exit)
}

// runWithHistory runs evento with args, --json and --history on a database
// of its own, and returns its report (it must exit 0) and the history's
// lines.
func runWithHistory(t *testing.T, args ...string) (report.Report, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	r := runEvento(t, setup(t).env, append(args, "--json", "--history", path)...)
	rep := decodeReport(t, r, 0)
	return rep, strings.Split(strings.TrimSpace(string(readFile(t, path))), "\n")
}

// decodeJSON fails t unless r exited with status exit and printed one JSON
// object of type T, with no unknown field, on stdout, and returns it.
func decodeJSON[T any](t *testing.T, r runResult, exit int) T {
	t.Helper()
	if r.exit != exit {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.exit, exit, r.stdout, r.stderr)
	}
	var decoded T
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&decoded); err != nil {
		t.Fatalf("stdout is not one JSON %T (%v):\n%s\nstderr:\n%s", decoded, err, r.stdout, r.stderr)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON object:\n%s", r.stdout)
	}
	return decoded
}

// checkUsageError fails t unless r exited 2 with one line on stderr,
// "evento: " first, that says each of wants; what names the run.
func checkUsageError(t *testing.T, r runResult, what string, wants ...string) {
	t.Helper()
	if r.exit != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "evento: ") {
		t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line", what, r.exit, r.stderr)
		return
	}
	for _, want := range wants {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("%s: %q does not say %q", what, r.stderr, want)
		}
	}
}

// startServers starts n evento serve processes with args on the test's
// database, stopped when the test ends.
func startServers(t *testing.T, bundle *testBundle, n int, args ...string) []*cluster.ServerProcess {
	t.Helper()
	servers, err := cluster.StartServers(context.Background(), cluster.ServerSpec{Executable: evento, DatabaseURL: bundle.url, Args: args}, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.StopServers(servers) })
	return servers
}
