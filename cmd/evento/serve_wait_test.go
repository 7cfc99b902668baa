package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evento-lab/evento/db/localpg"
)

// A server started while its database is down (restarted during an
// outage) waits, logging each attempt, and comes up when the database
// does, instead of exiting and staying down.
func TestServeWaitsForADatabaseDownAtStart(t *testing.T) {
	t.Parallel()
	// A password, to see that no retry line shows it.
	const password = "Wait-For-Me-93"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := localpg.Start(ctx, localpg.Options{Password: password, Log: io.Discard})
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	if err := pg.Shutdown(false); err != nil {
		t.Fatal(err)
	}

	// The default bound, 60 s, is well past the few seconds this takes.
	serve, retrying := startServe(t, []string{"DATABASE_URL=" + pg.URL("evento"), "PGPASSWORD="}, func(line string) bool {
		return strings.Contains(line, "database unavailable; retrying")
	}, "--addr", "127.0.0.1:0")
	said := serve.said
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = serve.cmd.Process.Kill()
		<-exited
	})
	addrs := make(chan []string, 1)
	go func() {
		r := bufio.NewReader(serve.stdout)
		var got []string
		for range 2 {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			got = append(got, strings.TrimSpace(line))
		}
		addrs <- got
		_, _ = io.Copy(io.Discard, r)
		<-serve.stderrDone
		exited <- serve.cmd.Wait()
	}()

	select {
	case <-retrying:
	case got := <-addrs:
		t.Fatalf("evento serve did not wait for the database that is down: stdout %q; stderr:\n%s", got, said())
	case <-time.After(30 * time.Second):
		t.Fatalf("no retry line within 30s; stderr:\n%s", said())
	}
	if err := pg.StartAgain(ctx); err != nil {
		t.Fatal(err)
	}

	var admin string
	select {
	case got := <-addrs:
		if len(got) != 2 || !strings.HasPrefix(got[1], "evento: admin on ") {
			t.Fatalf("stdout %q; stderr:\n%s", got, said())
		}
		admin = strings.TrimPrefix(got[1], "evento: admin on ")
	case <-time.After(60 * time.Second):
		t.Fatalf("evento serve did not come up within 60s of the database; stderr:\n%s", said())
	}
	resp, err := http.Get(admin + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %d", resp.StatusCode)
	}

	log := said()
	if strings.Contains(log, password) {
		t.Errorf("stderr shows the password:\n%s", log)
	}
	for line := range strings.Lines(log) {
		// The cause is "connection refused" while nothing listens, or
		// 57P03 when a retry lands while PostgreSQL starts up.
		if strings.Contains(line, "database unavailable") && !(strings.Contains(line, "backoff=") &&
			(strings.Contains(line, "connection refused") || strings.Contains(line, "SQLSTATE 57P03"))) {
			t.Errorf("a retry line names no backoff or cause: %q", line)
		}
	}
	if err := serve.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("evento serve after SIGINT: %v; stderr:\n%s", err, said())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("evento serve did not stop after SIGINT")
	}
}

// --wait-for-database 0 fails at once, as serve always did.
func TestServeWithoutWaitFailsAtOnce(t *testing.T) {
	t.Parallel()
	r := runEventoWithin(t, 30*time.Second, []string{"DATABASE_URL=postgres://postgres@127.0.0.1:1/evento"}, "serve", "--addr", "127.0.0.1:0", "--wait-for-database", "0")
	if r.exit != 2 || !strings.Contains(r.stderr, "cannot reach PostgreSQL at 127.0.0.1:1") || strings.Contains(r.stderr, "retrying") {
		t.Fatalf("exit %d, stderr %q; want exit 2, the unreachable server named, no retry", r.exit, r.stderr)
	}
}
