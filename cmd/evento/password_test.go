package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/lab/checker"
)

// The newcomer's first run on a stock Debian or Ubuntu desktop: `apt-get
// install postgresql` left a server on localhost:5432 that asks for a
// password over TCP. A server started here with a password stands in for
// it, named to the binary through its test hook instead of binding 5432.
func TestServerThatAsksForAPassword(t *testing.T) {
	t.Parallel()
	const password = "Open-Sesame-42"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	protected, err := localpg.Start(ctx, localpg.Options{Password: password, Log: io.Discard})
	if err != nil {
		t.Fatalf("start a PostgreSQL that asks for a password: %v", err)
	}
	t.Cleanup(func() { _ = protected.Stop() })
	addr := "127.0.0.1:" + strconv.Itoa(protected.Port())
	// Like the brief's default: no password, no sslmode.
	noPassword := "postgres://postgres@" + addr + "/evento"
	evento := func(t *testing.T, env []string, args ...string) runResult {
		t.Helper()
		// PGPASSWORD would be sent in place of the missing password.
		r := runEvento(t, append([]string{"PGPASSWORD=", "DATABASE_URL="}, env...), args...)
		if strings.Contains(r.stdout+r.stderr, password) {
			t.Errorf("evento %v printed the password:\n%s\n%s", args, r.stdout, r.stderr)
		}
		return r
	}
	databases := func() string {
		return queryString(t, protected.URL("postgres"), "select count(*)::text from pg_database where datname = 'evento'")
	}

	// The server at the default URL is not the user's to log in to: evento
	// says so in one line and runs on a throwaway server of its own.
	t.Run("default URL falls back", func(t *testing.T) {
		r := evento(t, []string{testDefaultURLEnv + "=" + noPassword}, "--clients", "5", "--rooms", "5", "--hotels", "1",
			"--strategy", "atomic", "--think", "0", "--json")
		if report := decodeReport(t, r, 0); report.Verdict != checker.Consistent || report.Totals.Booked != 5 {
			t.Fatalf("report: verdict %s, totals %+v", report.Verdict, report.Totals)
		}
		want := "evento: " + addr + " asks for a password (not ours to guess); starting a throwaway PostgreSQL instead — set DATABASE_URL to use that server"
		var said []string
		for line := range strings.Lines(r.stderr) {
			if strings.Contains(line, addr) {
				said = append(said, strings.TrimSuffix(line, "\n"))
			}
		}
		if len(said) != 1 || said[0] != want || !strings.Contains(r.stderr, "started throwaway PostgreSQL") || strings.Contains(r.stderr, "SASL") {
			t.Fatalf("stderr names %s in %q; want the one line %q, then the throwaway server:\n%s", addr, said, want, r.stderr)
		}
		if got := databases(); got != "0" {
			t.Fatalf("the run created database evento on the server that asked for a password")
		}
	})

	// The user's own DATABASE_URL is meant: no fallback, one line naming the
	// cause and the way out, the password hidden.
	t.Run("DATABASE_URL refused", func(t *testing.T) {
		for _, args := range [][]string{{"seed"}, {"--clients", "5"}, {"serve", "--addr", "127.0.0.1:0"}} {
			r := evento(t, []string{"DATABASE_URL=" + noPassword}, args...)
			want := "evento: " + noPassword + " refused the login: a password is required, and none was given; fix DATABASE_URL, or run with --embedded for a throwaway PostgreSQL\n"
			if r.exit != 2 || r.stderr != want {
				t.Errorf("evento %v without a password: exit %d, stderr %q; want exit 2 and %q", args, r.exit, r.stderr, want)
			}
		}
		r := evento(t, []string{"DATABASE_URL=postgres://postgres:wrong-pw-77@" + addr + "/evento"}, "seed")
		if strings.Contains(r.stderr, "wrong-pw-77") {
			t.Errorf("evento seed with a wrong password shows it: %q", r.stderr)
		}
		checkUsageError(t, r, "evento seed with a wrong password", "--embedded",
			"postgres://postgres:xxxxx@"+addr+"/evento refused the login: "+`password authentication failed for user "postgres"`)
		if got := databases(); got != "0" {
			t.Fatalf("a refused login created database evento")
		}
	})

	t.Run("DATABASE_URL with the password", func(t *testing.T) {
		r := evento(t, []string{"DATABASE_URL=" + protected.URL("evento")}, "seed", "--hotels", "2", "--rooms", "7")
		if r.exit != 0 || strings.Contains(r.stderr, "throwaway") {
			t.Fatalf("exit %d, stderr %q; want the server at DATABASE_URL used", r.exit, r.stderr)
		}
		if got := queryString(t, protected.URL("evento"), "select sum(assigned)::text from event_hotel_rooms"); got != "14" {
			t.Fatalf("the server at DATABASE_URL holds %s rooms, want the 14 seeded", got)
		}
	})
}
