package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/lab/explain"
)

// evento explain end to end, on DATABASE_URL's server: the JSON carries
// the table and every timeline, the text shows the lock wait, --spec lays
// out what pg_isolation_regress reads, and the database in DATABASE_URL is
// left alone (explain works in evento_explain).
func TestExplainCommand(t *testing.T) {
	t.Parallel()
	// explain creates evento_explain beside DATABASE_URL's database, which
	// takes a role allowed to create databases: the server's own, not the
	// per-test role of setup's databases.
	url := withDatabase(dbtest.ServerURL(t), "explain_command_test")
	explainOnTheServer.Lock()
	defer explainOnTheServer.Unlock()
	bundle := &testBundle{url: url, env: []string{"DATABASE_URL=" + url}}

	r := runEvento(t, bundle.env, "explain", "--strategy", "naive", "--scenario", "lost-update", "--json")
	if r.exit != 0 {
		t.Fatalf("exit %d\n%s", r.exit, r.stderr)
	}
	var rep explain.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s", err, r.stdout)
	}
	if len(rep.Rows) != 1 || rep.Rows[0].Cells[0] != explain.CellAnomaly || rep.Server == "" || rep.Note != explain.Probes {
		t.Fatalf("report = %+v", rep.Rows)
	}
	if run := rep.Runs[0]; len(run.Steps) != 8 || !run.Steps[5].Blocked || run.Steps[5].Name != "s2_write" || run.Final.Booked != 4 {
		t.Fatalf("naive's timeline: %+v", run)
	}

	specs := t.TempDir()
	r = runEvento(t, bundle.env, "explain", "--strategy", "atomic", "--scenario", "lost-update", "--spec", specs)
	if r.exit != 0 {
		t.Fatalf("exit %d\n%s", r.exit, r.stderr)
	}
	// Wrapped within 100 columns, SQL included; --wide keeps each
	// statement on one line.
	words := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{"atomic × lost-update — READ COMMITTED, PostgreSQL", "BLOCKED", explain.Probes, explain.CellRechecked} {
		if !strings.Contains(words, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}
	widest := func(text string) (n int) {
		for _, line := range strings.Split(text, "\n") {
			n = max(n, utf8.RuneCountInString(line))
		}
		return n
	}
	if n := widest(r.stdout); n > explain.Width {
		t.Errorf("a line of %d columns, want at most %d:\n%s", n, explain.Width, r.stdout)
	}
	wide := runEvento(t, bundle.env, "explain", "--strategy", "atomic", "--scenario", "lost-update", "--wide")
	if wide.exit != 0 || widest(wide.stdout) <= explain.Width || !strings.Contains(wide.stdout, "WITH counter AS ( UPDATE event_hotel_rooms SET reserved = reserved + 2::integer") {
		t.Errorf("--wide: exit %d, widest line %d: want each statement on one line\n%s", wide.exit, widest(wide.stdout), wide.stdout)
	}
	for _, f := range []string{"schedule", "specs/atomic_lost-update.spec", "expected/atomic_lost-update.out"} {
		if _, err := os.Stat(filepath.Join(specs, f)); err != nil {
			t.Errorf("--spec: %v", err)
		}
	}

	if r := runEvento(t, bundle.env, "explain", "--strategy", "nope"); r.exit != 2 || !strings.Contains(r.stderr, `unknown --strategy "nope"`) {
		t.Fatalf("unknown strategy: exit %d, %s", r.exit, r.stderr)
	}

	conn, err := pgx.Connect(t.Context(), bundle.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var untouched bool
	if err := conn.QueryRow(t.Context(), "SELECT to_regclass('events') IS NULL").Scan(&untouched); err != nil || !untouched {
		t.Fatalf("DATABASE_URL's database was migrated (%v); explain must write only to evento_explain", err)
	}
}
