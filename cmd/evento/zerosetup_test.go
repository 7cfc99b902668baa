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
// Not parallel: it runs alone before the parallel tests start. It
// interrupts once --progress shows a reservation made, not after a fixed
// time, which a loaded machine outran.
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
		"--strategy", "atomic", "--think", "50ms-100ms", "--json", "--progress"}, extra...)...)
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
	pids := postgresPIDs(t, dataDir)
	if len(pids) == 0 {
		t.Fatalf("no postgres process runs on %s", dataDir)
	}
	waitForABooking(t, lines)
	go io.Copy(io.Discard, stderr)
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

// bookedLine is a --progress line that counts at least one reservation.
var bookedLine = regexp.MustCompile(`\s[1-9][0-9]* reservations\s`)

// waitForABooking reads a run's stderr until --progress shows a
// reservation made: the servers are up and the clients booking.
func waitForABooking(t *testing.T, lines *bufio.Scanner) {
	t.Helper()
	for lines.Scan() {
		if bookedLine.MatchString(lines.Text()) {
			return
		}
	}
	t.Fatal("the run ended, or closed its stderr, before it booked anything")
}

// Ctrl-C before the run has begun (the throwaway PostgreSQL just started,
// the servers not yet) is an interrupt, exit 130, said in one line, with
// everything removed: not an error with exit 2 that reads "context
// canceled".
func TestInterruptedSetupIsAnInterrupt(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(evento, "--embedded", "--auth", "--clients", "50", "--rooms", "100", "--json")
	cmd.Env = append(os.Environ(), "DATABASE_URL=")
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
	for dataDir == "" && lines.Scan() {
		if m := dataDirLine.FindStringSubmatch(lines.Text()); m != nil {
			dataDir = m[1]
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || len(rest) != 1 || !strings.HasPrefix(rest[0], "evento: interrupted") {
		t.Fatalf("SIGINT during setup: %v, stderr after the start %q; want exit 130 and one line saying interrupted", err, rest)
	}
	if _, err := os.Stat(dataDir); dataDir == "" || !os.IsNotExist(err) {
		t.Fatalf("data directory %q left behind", dataDir)
	}
}
