package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/report"
)

var dataDirLine = regexp.MustCompile(`data in (\S+); removed on exit`)

// With no DATABASE_URL and --embedded, evento starts its own PostgreSQL,
// says so in one line, runs, and leaves nothing behind.
func TestRunWithThrowawayDatabase(t *testing.T) {
	t.Parallel()
	r := runEvento(t, []string{"DATABASE_URL="}, "--embedded", "--clients", "20", "--rooms", "10",
		"--hotels", "1", "--strategy", "atomic", "--think", "0", "--json")
	if report := decodeReport(t, r, 0); report.Verdict != checker.Consistent || report.Totals.Booked != 10 {
		t.Fatalf("report: %+v", report)
	}
	m := dataDirLine.FindStringSubmatch(r.stderr)
	if m == nil || !strings.Contains(r.stderr, "started throwaway PostgreSQL") {
		t.Fatalf("stderr does not announce the throwaway server: %q", r.stderr)
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Fatalf("data directory %s left behind (%v)", m[1], err)
	}
}

// Ctrl-C in the middle of a run stops the clients, the servers and the
// throwaway PostgreSQL, removes its directory, and still prints a verdict.
//
// Not parallel: it interrupts after a fixed 2 s, by which the servers must
// be up and booking, so it runs alone before the parallel tests start.
func TestInterruptedRunCleansUp(t *testing.T) {
	t.Run("fair weather", func(t *testing.T) { interruptRun(t) })
	// Interrupted in the middle of faults: a server killed, PostgreSQL
	// restarted, crashed or paused, replies being lost. Everything is
	// healed and removed all the same.
	t.Run("under faults", func(t *testing.T) {
		interruptRun(t, "--faults", "all", "--fault-every", "300ms", "--client-timeout", "1s")
	})
}

func interruptRun(t *testing.T, extra ...string) {
	cmd := exec.Command(evento, append([]string{"--embedded", "--clients", "20", "--rooms", "100000", "--hotels", "1",
		"--strategy", "atomic", "--think", "50ms-100ms", "--json"}, extra...)...)
	cmd.Env = append(os.Environ(), "DATABASE_URL=")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(stderr)
	var dataDir string
	for lines.Scan() {
		if m := dataDirLine.FindStringSubmatch(lines.Text()); m != nil {
			dataDir = m[1]
			break
		}
	}
	if dataDir == "" {
		t.Fatal("no throwaway server announced")
	}
	go io.Copy(io.Discard, stderr)
	pids := postgresPIDs(t, dataDir)
	if len(pids) == 0 {
		t.Fatalf("no postgres process runs on %s", dataDir)
	}
	time.Sleep(2 * time.Second) // servers up, clients booking
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 130 {
			t.Fatalf("exit after SIGINT: %v, want status 130", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("evento did not exit within 30s of SIGINT")
	}
	var partial report.Report
	if err := json.Unmarshal(stdout.Bytes(), &partial); err != nil {
		t.Fatalf("no report after SIGINT: %v\n%s", err, stdout.String())
	}
	if partial.Completed || partial.Verdict != checker.Inconclusive || partial.Totals.Booked == 0 {
		t.Fatalf("report after SIGINT: completed %v verdict %s booked %d", partial.Completed, partial.Verdict, partial.Totals.Booked)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Fatalf("data directory %s left behind", dataDir)
	}
	if left := postgresPIDs(t, dataDir); len(left) != 0 {
		t.Fatalf("postgres processes left running: %v", left)
	}
}

// postgresPIDs finds live (non-zombie) processes whose command line names dir.
func postgresPIDs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc to inspect processes")
	}
	var pids []string
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err == nil && !bytes.Contains(stat, []byte(") Z ")) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
