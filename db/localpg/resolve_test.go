package localpg

import (
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestResolveUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()

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
	conn := connect(t, ctx, r.URL)
	if got := queryString(t, ctx, conn, "select current_database()"); got != "made_by_resolve" {
		t.Errorf("current_database() = %s", got)
	}

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
	conn = connect(t, ctx, s.URL(`Needs "Quoting"`))
	if got := queryString(t, ctx, conn, "select current_database()"); got != `Needs "Quoting"` {
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
	conn := connect(t, ctx, r.URL)
	if got := queryString(t, ctx, conn, "select current_database()"); got != "evento" {
		t.Errorf("current_database() = %s", got)
	}
}

// testLog shows the started notice in verbose test output.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
