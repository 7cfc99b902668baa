package localpg

import (
	"context"
	"testing"
	"time"
)

// A crash (immediate shutdown) and a restart keep the port and every
// committed row: the new postmaster recovers from the WAL. Durable, as
// evento run's server is: with synchronous_commit off (the tests' speed
// setting) a crash may lose the last commits, by design.
func TestRestartAndCrashKeepCommittedData(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := startServer(t, Options{Durable: true})
	url := s.URL("postgres")
	conn := connect(t, ctx, url)
	if _, err := conn.Exec(ctx, "create table t (id int); insert into t values (1)"); err != nil {
		t.Fatal(err)
	}
	port, pid := s.Port(), s.PID()
	for _, crash := range []bool{true, false} {
		if err := s.Restart(ctx, crash); err != nil {
			t.Fatalf("restart (crash %v): %v", crash, err)
		}
		if s.Port() != port || s.PID() == pid {
			t.Fatalf("after restart: port %d pid %d, before %d %d; want the same port, a new postmaster", s.Port(), s.PID(), port, pid)
		}
		pid = s.PID()
		if _, err := conn.Exec(ctx, "select 1"); err == nil {
			t.Fatalf("a session survived the restart (crash %v)", crash)
		}
		conn = connect(t, ctx, url)
		if got := queryString(t, ctx, conn, "select count(*) from t"); got != "1" {
			t.Fatalf("after restart (crash %v): %s rows, want the committed one", crash, got)
		}
	}
}

// A paused server answers nothing until it is resumed; its sessions live.
func TestPauseFreezesTheServerUntilResume(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := startServer(t, Options{})
	conn := connect(t, ctx, s.URL("postgres"))
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = s.Resume()
		}
	}()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := conn.Exec(short, "select 1"); err == nil {
		t.Fatal("a paused server answered")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	conn = connect(t, ctx, s.URL("postgres")) // the timed-out session was closed by pgx
	if got := queryString(t, ctx, conn, "select 1"); got != "1" {
		t.Fatalf("after resume: %s", got)
	}
}
