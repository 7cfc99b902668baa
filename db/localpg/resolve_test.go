package localpg

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestResolveUnreachable(t *testing.T) {
	t.Parallel()
	// Port 1: never handed out as a free port, so no server this package
	// starts in parallel (PostgreSQL, PgBouncer) can be listening there,
	// as one could on a port just closed.
	const closedAddr = "127.0.0.1:1"

	// Accepts TCP connections (the kernel does, from the backlog) but never
	// speaks: a hung server or a firewall black hole.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	for _, tc := range []struct {
		name, addr, reason string
	}{
		{"closed port", closedAddr, "connection refused"},
		{"silent server", silent.Addr().String(), "no answer within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "postgres://postgres@" + tc.addr + "/evento?sslmode=disable"
			began := time.Now()
			r, err := Resolve(testCtx(t), ResolveOptions{DatabaseURL: url})
			if err == nil {
				r.Close()
				t.Fatalf("Resolve(%s) succeeded", url)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tc.addr) || !strings.Contains(msg, tc.reason) || !strings.Contains(msg, "DATABASE_URL") {
				t.Errorf("error = %q; want one line naming %s, DATABASE_URL and %q", msg, tc.addr, tc.reason)
			}
			if d := time.Since(began); d > 5*time.Second {
				t.Errorf("Resolve took %s", d)
			}
		})
	}
}

func TestResolveCreatesMissingDatabase(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := startServer(t, Options{})

	r, err := Resolve(ctx, ResolveOptions{DatabaseURL: s.URL("made_by_resolve")})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	defer r.Close()
	if r.Embedded || r.URL != s.URL("made_by_resolve") {
		t.Errorf("Resolve = %+v; want the given URL, not embedded", r)
	}
	assertDatabase(t, ctx, r.URL, "made_by_resolve")

	// Several processes starting at once all try to create the database.
	const racers = 6
	var wg sync.WaitGroup
	errs := make(chan error, racers)
	for range racers {
		wg.Go(func() { errs <- EnsureDatabase(ctx, s.URL(`Needs "Quoting"`)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("EnsureDatabase: %v", err)
		}
	}
	assertDatabase(t, ctx, s.URL(`Needs "Quoting"`), `Needs "Quoting"`)
}

// assertDatabase checks that url connects to the database want.
func assertDatabase(t *testing.T, ctx context.Context, url, want string) {
	t.Helper()
	conn := connect(t, ctx, url)
	if got := queryString(t, ctx, conn, "select current_database()"); got != want {
		t.Errorf("current_database() = %s", got)
	}
}

func TestResolveEmbedded(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	r, err := Resolve(ctx, ResolveOptions{
		DatabaseURL: "postgres://someone@db.example:5432/custom_db",
		Embedded:    true,
		Log:         testLog{t},
	})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if !r.Embedded || !strings.Contains(r.URL, "@127.0.0.1:") || !strings.Contains(r.URL, "/custom_db?") {
		t.Errorf("Resolve = %+v; want an embedded server with database custom_db", r)
	}
	conn := connect(t, ctx, r.URL)
	dataDir := queryString(t, ctx, conn, "select current_setting('data_directory')")
	_ = conn.Close(ctx)

	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertGone(t, dataDir)
	assertGone(t, filepath.Dir(dataDir))
}

func TestResolveDefault(t *testing.T) {
	t.Parallel()
	if c, err := net.DialTimeout("tcp", "localhost:5432", 500*time.Millisecond); err == nil {
		c.Close()
		t.Skip("a server listens on localhost:5432; Resolve would use it, which this test must not touch")
	}
	ctx := testCtx(t)
	began := time.Now()
	r, err := Resolve(ctx, ResolveOptions{Log: testLog{t}})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	defer r.Close()
	t.Logf("Resolve with nothing on localhost:5432 took %s", time.Since(began))
	if !r.Embedded || !strings.HasSuffix(r.URL, "/evento?sslmode=disable") {
		t.Errorf("Resolve = %+v; want an embedded server with database evento", r)
	}
	assertDatabase(t, ctx, r.URL, "evento")
}

// testLog shows the started notice in verbose test output.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// A server that wants a password, as a distribution's package installs
// one: DATABASE_URL without the password, or with a wrong one, is refused
// in one line that names the cause and never the password; the default URL
// refused falls back to a throwaway server and says so in one line.
func TestResolveRefusedLogin(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	const password = "Open-Sesame-42"
	var notice bytes.Buffer
	s := startServer(t, Options{Password: password, Log: &notice})
	if strings.Contains(notice.String(), password) || !strings.Contains(notice.String(), "postgres:xxxxx@127.0.0.1:") {
		t.Errorf("started notice %q: want the password redacted", notice.String())
	}
	conn := connect(t, ctx, s.URL("postgres")) // the URL carries the password
	if got := queryString(t, ctx, conn, "select current_user"); got != "postgres" {
		t.Fatalf("current_user = %s", got)
	}

	addr := "127.0.0.1:" + strconv.Itoa(s.Port())
	noPassword := "postgres://postgres@" + addr + "/evento?sslmode=disable"
	if cfg, err := pgx.ParseConfig(noPassword); err != nil || cfg.Password != "" {
		t.Skipf("PGPASSWORD or a .pgpass gives a password (%v); this test needs none", err)
	}
	// Every login asks for a password, which hides whether a role exists
	// (28P01 either way); a role that may not log in is told so (28000).
	if _, err := conn.Exec(ctx, "create role nobody nologin password 'nobody-pw'"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, url, cause string
		noPassword       bool
	}{
		{"no password", noPassword, "a password is required", true},
		{"wrong password", "postgres://postgres:wrong-pw-77@" + addr + "/evento?sslmode=disable", `password authentication failed for user "postgres"`, false},
		{"role may not log in", "postgres://nobody:nobody-pw@" + addr + "/evento?sslmode=disable", `role "nobody" is not permitted to log in`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Resolve(ctx, ResolveOptions{DatabaseURL: tc.url, Log: testLog{t}})
			if err == nil {
				r.Close()
				t.Fatal("Resolve succeeded")
			}
			var refusal *RefusedError
			if !errors.As(err, &refusal) {
				t.Fatalf("Resolve: %v (%T); want a *RefusedError", err, err)
			}
			msg := err.Error()
			if refusal.NoPassword != tc.noPassword || !strings.Contains(refusal.Cause, tc.cause) || strings.Contains(msg, "\n") ||
				!strings.Contains(msg, "DATABASE_URL") || strings.Contains(msg, "wrong-pw-77") || strings.Contains(msg, password) {
				t.Errorf("error %q (no password %v); want one line from DATABASE_URL with cause %q, no password %v, and no password shown",
					msg, refusal.NoPassword, tc.cause, tc.noPassword)
			}
		})
	}

	t.Run("default URL", func(t *testing.T) {
		var log bytes.Buffer
		r, err := Resolve(ctx, ResolveOptions{DefaultURL: noPassword, Log: &log})
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		defer r.Close()
		if !r.Embedded || strings.Contains(r.URL, addr) {
			t.Errorf("Resolve = %+v; want a throwaway server instead of %s", r, addr)
		}
		lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
		want := "evento: " + addr + " asks for a password (not ours to guess); starting a throwaway PostgreSQL instead — set DATABASE_URL to use that server"
		if len(lines) != 2 || lines[0] != want || !strings.HasPrefix(lines[1], "evento: started throwaway PostgreSQL") {
			t.Errorf("log:\n%s\nwant %q, then the started notice", log.String(), want)
		}
		assertDatabase(t, ctx, r.URL, "evento")
	})
}

// Unavailable tells an outage, which waiting may end, from a refusal,
// which it will not.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&unreachableError{addr: "127.0.0.1:1", reason: "connection refused"}, true},
		{&serverError{msg: "starting up", err: &pgconn.PgError{Code: pgerrcode.CannotConnectNow}}, true},
		{&serverError{msg: "shutting down", err: &pgconn.PgError{Code: pgerrcode.AdminShutdown}}, true},
		{&serverError{msg: "full", err: &pgconn.PgError{Code: pgerrcode.TooManyConnections}}, true},
		{&RefusedError{Cause: "no such role", Err: &pgconn.PgError{Code: pgerrcode.InvalidAuthorizationSpecification}}, false},
		{&serverError{msg: "other", err: &pgconn.PgError{Code: pgerrcode.InsufficientPrivilege}}, false},
		{errors.New("DATABASE_URL: cannot parse"), false},
	} {
		if got := Unavailable(tc.err); got != tc.want {
			t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
