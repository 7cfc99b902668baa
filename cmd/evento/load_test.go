package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/cluster"
	"github.com/evento-lab/evento/lab/nemesis"
)

// evento load drives servers that were started on their own, verifying
// through the API alone, or through the database when DATABASE_URL is given.
func TestLoadAgainstRunningServers(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	seeded := runEvento(t, bundle.env, "seed", "--hotels", "2", "--rooms", "15", "--json")
	if seeded.exit != 0 {
		t.Fatalf("seed: exit %d: %s", seeded.exit, seeded.stderr)
	}
	var event struct {
		EventID int64 `json:"event_id"`
		Hotels  []struct {
			HotelID int64  `json:"hotel_id"`
			Name    string `json:"name"`
			Rooms   int64  `json:"rooms"`
		} `json:"hotels"`
	}
	if err := json.Unmarshal([]byte(seeded.stdout), &event); err != nil || len(event.Hotels) != 2 || event.Hotels[0].Rooms != 15 {
		t.Fatalf("seed --json printed %q (%v)", seeded.stdout, err)
	}

	servers, err := cluster.StartServers(context.Background(), cluster.ServerSpec{Executable: evento, DatabaseURL: bundle.url}, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.StopServers(servers) })
	targets := servers[0].URL + "," + servers[1].URL

	first := runEvento(t, []string{"DATABASE_URL="}, "load", "--target", targets, "--event", itoa(event.EventID),
		"--clients", "30", "--strategy", "atomic", "--think", "0", "--json", "--expect", "consistent")
	if first.exit != 0 {
		t.Fatalf("load: exit %d\n%s\n%s", first.exit, first.stdout, first.stderr)
	}
	report := decodeReport(t, first)
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
	report = decodeReport(t, second)
	if !containsAll(report.Anomalies, "no room to book when the run began") {
		t.Fatalf("a load on a sold-out event does not say it tested nothing: %q", report.Anomalies)
	}
	if second.exit != 0 || report.VerifiedBy != "database" || report.Verdict != checker.Inconclusive ||
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
		if r.exit != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || strings.Contains(r.stderr, "secret") {
			t.Errorf("load %v: exit %d, stderr %q; want exit 2, one line, no password", c.args, r.exit, r.stderr)
			continue
		}
		for _, want := range c.wants {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("load %v: %q does not say %q", c.args, r.stderr, want)
			}
		}
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
	servers, err := cluster.StartServers(context.Background(), cluster.ServerSpec{Executable: evento, DatabaseURL: bundle.url}, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.StopServers(servers) })
	history := filepath.Join(t.TempDir(), "history.jsonl")

	r := runEvento(t, bundle.env, "load", "--target", servers[0].URL+","+servers[1].URL, "--event", itoa(event.EventID),
		"--clients", "30", "--strategy", "atomic", "--max-rooms", "1", "--think", "30ms-90ms",
		"--faults", "all", "--fault-every", "500ms", "--retry-budget", "90s", "--history", history,
		"--json", "--expect", "consistent")
	if r.exit != 0 {
		t.Fatalf("load: exit %d\n%s\n%s", r.exit, r.stdout, r.stderr)
	}
	report := decodeReport(t, r)
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
	for _, kind := range []string{nemesis.KillServer, nemesis.CrashPostgres, nemesis.TerminateBackends} {
		r := runEvento(t, []string{"DATABASE_URL="}, "load", "--target", "http://127.0.0.1:1", "--event", "1", "--faults", kind)
		if r.exit != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
			!strings.Contains(r.stderr, "--faults "+kind) || !strings.Contains(r.stderr, "load can inject: lose-replies") {
			t.Errorf("--faults %s: exit %d, stderr %q", kind, r.exit, r.stderr)
		}
	}
}

// countHistory counts a --history file's attempt and fault lines.
func countHistory(t *testing.T, path string) (attempts, faults int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
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
	safe, err := cluster.StartServers(context.Background(), cluster.ServerSpec{Executable: evento, DatabaseURL: bundle.url}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.StopServers(safe) })
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
	if booked := countReservations(t, bundle.url); booked != 0 {
		t.Fatalf("%d reservations after a refused mode", booked)
	}

	all, err := cluster.StartServers(context.Background(), cluster.ServerSpec{Executable: evento, DatabaseURL: bundle.url, Args: []string{"--modes", "all"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.StopServers(all) })
	r = runEvento(t, bundle.env, "load", "--target", all[0].URL, "--event", itoa(event.EventID),
		"--clients", "5", "--strategy", "naive", "--think", "0", "--json")
	if report := decodeReport(t, r); r.exit != 0 || report.Requests.Success == 0 {
		t.Fatalf("naive on a server with --modes all: exit %d, %+v\n%s", r.exit, report.Requests, r.stderr)
	}
}

func countReservations(t *testing.T, url string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM reservations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
