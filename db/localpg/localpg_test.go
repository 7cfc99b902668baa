package localpg

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgerrcode"
)

func TestThrowawayCluster(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var notice bytes.Buffer
	s := startServer(t, Options{MaxConnections: 37, Log: &notice})

	want := fmt.Sprintf("at postgres://postgres:xxxxx@127.0.0.1:%d/postgres?sslmode=disable (data in %s; removed on exit)\n", s.Port(), s.DataDir())
	if got := notice.String(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "evento: started throwaway PostgreSQL 15") || !strings.HasSuffix(got, want) ||
		strings.Contains(got, s.opts.Password) {
		t.Errorf("notice = %q, want one line ending in %q", got, want)
	}

	conn := connect(t, ctx, s.URL("postgres"))
	if got := queryString(t, ctx, conn, "select 1"); got != "1" {
		t.Fatalf("select 1 = %s", got)
	}
	if _, err := conn.Exec(ctx, "create table t (id int primary key, name text)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if got := queryString(t, ctx, conn, "show max_connections"); got != "37" {
		t.Errorf("max_connections = %s, want 37", got)
	}
	if got := queryString(t, ctx, conn, "show fsync"); got != "off" {
		t.Errorf("fsync = %s, want off for a non-durable cluster", got)
	}
	if got := queryString(t, ctx, conn, "select current_setting('data_directory')"); got != s.DataDir() {
		t.Errorf("data_directory = %s, want %s", got, s.DataDir())
	}

	pidFile, err := os.ReadFile(filepath.Join(s.DataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	if err != nil || pid != s.PID() {
		t.Fatalf("postmaster.pid says %d (%v), Server.PID() = %d", pid, err, s.PID())
	}

	if os.Geteuid() == 0 {
		fi, err := os.Stat(s.DataDir())
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
			t.Errorf("data dir owned by root; postgres must run unprivileged")
		}
		if uid := processUID(t, pid); uid == 0 {
			t.Errorf("postmaster runs as root")
		}
	}

	_ = conn.Close(ctx)
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertGone(t, s.DataDir())
	assertGone(t, filepath.Dir(s.DataDir())) // socket and log directory
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("postmaster %d still exists after Stop (kill 0: %v)", pid, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestKeptDir(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	base := t.TempDir()
	dir := filepath.Join(base, "cluster")

	if os.Geteuid() == 0 {
		// t.TempDir's parent is private to root (0700), so the postgres
		// user cannot reach the cluster: Start must say where the problem is.
		private := filepath.Dir(base)
		_, err := Start(ctx, Options{Dir: dir, Log: os.Stderr})
		if err == nil || !strings.Contains(err.Error(), private) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("Start under %s (0700, root) = %v; want a one-line error naming it", private, err)
		}
		assertGone(t, dir) // refused before creating anything
		if err := os.Chmod(private, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	var notice bytes.Buffer
	s := startServer(t, Options{Dir: dir, Durable: true, Log: &notice})
	if !strings.Contains(notice.String(), "data kept in "+dir) {
		t.Errorf("notice = %q, want it to say the data is kept in %s", notice.String(), dir)
	}
	conn := connect(t, ctx, s.URL("postgres"))
	if got := queryString(t, ctx, conn, "show fsync"); got != "on" {
		t.Errorf("fsync = %s, want on for a durable cluster", got)
	}
	if _, err := conn.Exec(ctx, "create table kept (v text); insert into kept values ('still here')"); err != nil {
		t.Fatal(err)
	}

	// A second server must not open a data directory that is in use.
	if s2, err := Start(ctx, Options{Dir: dir, Log: os.Stderr}); err == nil {
		_ = s2.Stop()
		t.Fatal("second Start on a data directory in use succeeded")
	} else if !strings.Contains(err.Error(), "already used by a running PostgreSQL server") {
		t.Errorf("second Start: %v; want an explanation that the directory is in use", err)
	}

	_ = conn.Close(ctx)
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		t.Fatalf("cluster not kept: %v", err)
	}

	firstPassword := s.opts.Password
	s = startServer(t, Options{Dir: dir})
	conn = connect(t, ctx, s.URL("postgres"))
	if got := queryString(t, ctx, conn, "select v from kept"); got != "still here" {
		t.Errorf("kept table holds %q", got)
	}
	// Each start sets a password of its own: the last one's opens nothing.
	if code := loginCode(ctx, withoutPassword(t, s.URL("postgres"), firstPassword)); code != pgerrcode.InvalidPassword {
		t.Errorf("the first start's password on the second: %q, want SQLSTATE %s", code, pgerrcode.InvalidPassword)
	}
	_ = conn.Close(ctx)
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		t.Errorf("cluster not kept after second run: %v", err)
	}
}

// TestPortTaken covers losing the race for the port: another process binds
// it between the moment we pick it and the moment postgres does.
func TestPortTaken(t *testing.T) {
	// Not parallel: it replaces pickPort.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	var calls int
	pickPort = func() (int, error) {
		calls++
		if calls == 1 {
			return takenPort, nil
		}
		return freePort()
	}
	t.Cleanup(func() { pickPort = freePort })

	s := startServer(t, Options{})
	if calls != 2 || s.Port() == takenPort {
		t.Errorf("after a taken port: %d port picks, server on %d (taken: %d); want a retry on another port", calls, s.Port(), takenPort)
	}
	conn := connect(t, testCtx(t), s.URL("postgres"))
	if got := queryString(t, testCtx(t), conn, "select current_setting('data_directory')"); got != s.DataDir() {
		t.Errorf("connected to %s, not to our server in %s", got, s.DataDir())
	}
}
