package main

import (
	"os"
	"strings"
	"testing"
)

// A server takes real bookings: without DATABASE_URL it used to take them
// into a throwaway database deleted on exit, saying so in a line easy to
// miss. It refuses now, in one line saying how to get each, and starts
// nothing: no PostgreSQL, no data directory.
func TestServeWithoutADatabaseRefuses(t *testing.T) {
	t.Parallel()
	// A throwaway cluster would make its directory here, and its postgres
	// would name it on its command line.
	tmp, err := os.MkdirTemp("", "nodb-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil { // for postgres, when we are root
		t.Fatal(err)
	}
	// The default URL names nothing that answers, as on a machine with no
	// server installed.
	env := []string{"DATABASE_URL=", "TMPDIR=" + tmp, testDefaultURLEnv + "=postgres://postgres@127.0.0.1:1/evento"}
	r := runEvento(t, env, "serve", "--addr", "127.0.0.1:0")
	checkUsageError(t, r, "evento serve without a database", "no database", "DATABASE_URL", "--embedded", "deleted on exit")
	if r.stdout != "" || strings.Contains(r.stderr, "started") {
		t.Errorf("evento serve without a database started something: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("evento serve without a database left %d entries in %s", len(left), tmp)
	}
	if pids := postgresPIDs(t, tmp); len(pids) != 0 {
		t.Errorf("postgres processes run on %s: %v", tmp, pids)
	}

	// Other commands keep their zero setup; the lab's own servers are
	// handed the run's URL.
	run := runEvento(t, env, "--clients", "3", "--rooms", "3", "--hotels", "1", "--think", "0", "--strategy", "atomic", "--json")
	if report := decodeReport(t, run, 0); report.Totals.Booked != 3 || !strings.Contains(run.stderr, "started throwaway") {
		t.Errorf("evento run without a database: booked %d; stderr %q", report.Totals.Booked, run.stderr)
	}
}
