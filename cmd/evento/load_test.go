package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/nemesis"
)

// evento load drives servers that were started on their own, verifying
// through the API alone, or through the database when DATABASE_URL is given.
func TestLoadAgainstRunningServers(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	event := seedEvent(t, bundle, "2", "15")
	if len(event.Hotels) != 2 || event.Hotels[0].Rooms != 15 {
		t.Fatalf("seed --json printed %+v", event)
	}
	servers := startServers(t, bundle, 2)
	targets := servers[0].URL + "," + servers[1].URL

	first := runEvento(t, []string{"DATABASE_URL="}, "load", "--target", targets, "--event", itoa(event.EventID),
		"--clients", "30", "--strategy", "atomic", "--think", "0", "--json", "--expect", "consistent")
	report := decodeReport(t, first, 0)
	if report.VerifiedBy != "api" || report.Totals.Reserved != 30 || report.Totals.Acknowledged != 30 || report.Servers != 2 {
		t.Fatalf("API-verified report: %+v", report)
	}
	if !containsAll(report.Notes, "verified through the API only") {
		t.Fatalf("notes do not say the check was API-only: %q", report.Notes)
	}

	// Sold out already: a second load, verified through the database, books
	// nothing, judges only its own clients, and says the event was not
	// fresh. It tested nothing, so it is inconclusive, and says why.
	second := runEvento(t, bundle.env, "load", "--target", targets, "--event", itoa(event.EventID),
		"--clients", "5", "--strategy", "atomic", "--think", "0", "--json")
	report = decodeReport(t, second, 0)
	if !containsAll(report.Anomalies, "no room to book when the run began") {
		t.Fatalf("a load on a sold-out event does not say it tested nothing: %q", report.Anomalies)
	}
	if report.VerifiedBy != "database" || report.Verdict != checker.Inconclusive ||
		report.Requests.Success != 0 || report.Totals.Booked != 30 {
		t.Fatalf("second load: %+v", report)
	}
	if !containsAll(report.Notes, "already had 30 rooms booked") {
		t.Fatalf("notes: %q", report.Notes)
	}

	// A load that is set up wrong says which flag, in one line.
	for _, c := range []struct {
		env   []string
		args  []string
		wants []string
	}{
		{[]string{"DATABASE_URL="}, []string{"--event", "999999"}, []string{"--event 999999", "no such event", "evento seed"}},
		{[]string{"DATABASE_URL=postgres://postgres:secret@127.0.0.1:1/evento"}, []string{"--event", itoa(event.EventID)}, []string{"--database-url", "connection refused"}},
	} {
		r := runEvento(t, c.env, append([]string{"load", "--target", targets, "--clients", "1"}, c.args...)...)
		if strings.Contains(r.stderr, "secret") {
			t.Errorf("load %v: stderr %q shows the password", c.args, r.stderr)
		}
		checkUsageError(t, r, fmt.Sprint("load ", c.args), c.wants...)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// evento load loses the servers' answers through a proxy of its own, in
// front of servers it did not start: every lost booking is resent with
// its key and resolves to its one reservation, so the run stays
// consistent and database-exact, with nothing left unknown. (Without
// keys, --no-idempotency, the same run ends with hundreds unknown.)
func TestLoadLosesRepliesAndStaysExact(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	event := seedEvent(t, bundle, "1", "600")
	servers := startServers(t, bundle, 2)
	history := filepath.Join(t.TempDir(), "history.jsonl")

	r := runEvento(t, bundle.env, "load", "--target", servers[0].URL+","+servers[1].URL, "--event", itoa(event.EventID),
		"--clients", "30", "--strategy", "atomic", "--max-rooms", "1", "--think", "30ms-90ms",
		"--faults", "all", "--fault-every", "500ms", "--retry-budget", "90s", "--history", history,
		"--json", "--expect", "consistent")
	report := decodeReport(t, r, 0)
	if report.VerifiedBy != "database" || !report.Totals.SoldOut || report.Unknown.Requests != 0 || report.ClientsGaveUp != 0 {
		t.Fatalf("verified by %s, sold out %v, unknown %+v, gave up %d", report.VerifiedBy, report.Totals.SoldOut, report.Unknown, report.ClientsGaveUp)
	}
	lost := 0
	for _, f := range report.Faults {
		if f.Fault != nemesis.LoseReplies || f.Error != "" {
			t.Fatalf("fault %+v", f)
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(f.Target, " replies"))
		lost += n
	}
	if lost == 0 || report.Replayed == 0 {
		t.Fatalf("%d faults lost %d replies and %d answers were replayed: the run proved nothing", len(report.Faults), lost, report.Replayed)
	}
	assertReportMatchesDatabase(t, bundle.url, report)
	attempts, faults := countHistory(t, history)
	if faults != len(report.Faults) || attempts == 0 {
		t.Fatalf("history has %d attempts and %d faults, the report %d faults", attempts, faults, len(report.Faults))
	}
}

// A fault evento load cannot inject is refused in one line that names the
// flag and says what load can do.
func TestLoadRefusesFaultsItCannotInject(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{nemesis.KillServer, nemesis.PauseServer, nemesis.CrashPostgres, nemesis.TerminateBackends} {
		r := runEvento(t, []string{"DATABASE_URL="}, "load", "--target", "http://127.0.0.1:1", "--event", "1", "--faults", kind)
		checkUsageError(t, r, "--faults "+kind, "--faults "+kind, "load can inject: lose-replies")
	}
}

// countHistory counts a --history file's attempt and fault lines.
func countHistory(t *testing.T, path string) (attempts, faults int) {
	t.Helper()
	raw := readFile(t, path)
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var l struct{ Type string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("history line %q: %v", line, err)
		}
		switch l.Type {
		case "attempt":
			attempts++
		case "fault":
			faults++
		}
	}
	return attempts, faults
}

// A hand-started server leaves naive out unless told --modes all: evento
// load against it stops at once, in one line that says how to serve the
// mode, and books nothing. Started with --modes all, the same load runs.
func TestLoadStopsOnADisabledMode(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	event := seedEvent(t, bundle, "1", "50")
	safe := startServers(t, bundle, 1)
	started := time.Now()
	r := runEvento(t, bundle.env, "load", "--target", safe[0].URL, "--event", itoa(event.EventID),
		"--clients", "200", "--strategy", "naive", "--think", "0", "--json")
	if r.exit == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
		!strings.Contains(r.stderr, "does not serve mode naive") || !strings.Contains(r.stderr, "evento serve --modes all") {
		t.Fatalf("load of a disabled mode: exit %d, stderr %q; want one line naming the mode and --modes all", r.exit, r.stderr)
	}
	t.Logf("refused: %s", r.stderr)
	if elapsed := time.Since(started); elapsed > 20*time.Second {
		t.Fatalf("load took %s to give up on a disabled mode", elapsed)
	}
	if booked := queryString(t, bundle.url, `SELECT count(*)::text FROM reservations`); booked != "0" {
		t.Fatalf("%s reservations after a refused mode", booked)
	}

	all := startServers(t, bundle, 1, "--modes", "all")
	r = runEvento(t, bundle.env, "load", "--target", all[0].URL, "--event", itoa(event.EventID),
		"--clients", "5", "--strategy", "naive", "--think", "0", "--json")
	if report := decodeReport(t, r, 0); report.Requests.Success == 0 {
		t.Fatalf("naive on a server with --modes all: %+v\n%s", report.Requests, r.stderr)
	}
}

// evento load with a key under the servers' default limit per client
// books up to that many rooms of the event and stops: every simulated
// client is that one client, and client_limit tells each that it is done.
// The last request may ask for more rooms than the limit leaves (up to 5),
// so the load ends between 6 and 10, never past it. No client gives up on
// errors, nothing is unknown, and the run is consistent.
func TestLoadWithAKeyStopsAtItsLimit(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	event := seedEvent(t, bundle, "2", "50")
	added := runEvento(t, bundle.env, "clients", "add", "buyer", "--json")
	var out struct {
		APIKey string `json:"api_key"`
	}
	if added.exit != 0 || json.Unmarshal([]byte(added.stdout), &out) != nil {
		t.Fatalf("clients add: exit %d %q", added.exit, added.stderr)
	}
	servers := startServers(t, bundle, 2, "--auth", "keys")
	r := runEvento(t, bundle.env, "load", "--target", servers[0].URL+","+servers[1].URL, "--event", itoa(event.EventID),
		"--api-key", out.APIKey, "--clients", "8", "--strategy", "atomic", "--think", "0", "--json", "--expect", "consistent")
	report := decodeReport(t, r, 0)
	if b := report.Totals.Booked; b < 6 || b > 10 || report.Totals.Acknowledged != b || report.ClientsGaveUp != 0 || report.Unknown.Requests != 0 {
		t.Fatalf("a load under a limit of 10: booked %d, acknowledged %d, gave up %d, unknown %+v",
			report.Totals.Booked, report.Totals.Acknowledged, report.ClientsGaveUp, report.Unknown)
	}
}
