package localpg

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// needHA skips a test on a machine without Patroni and etcd, except on CI
// (CI=true), which installs them (.ci/run).
func needHA(t *testing.T) {
	t.Helper()
	if _, _, err := FindHA(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v, and CI=true: .ci/run installs them", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// TestHAFailoverKeepsSyncCommits starts a pair in strict mode, commits a
// row through the multi-host URL, kills the primary, and reads the row
// through the same URL from the new primary; then a planned switchover,
// and after Stop nothing is left.
func TestHAFailoverKeepsSyncCommits(t *testing.T) {
	needHA(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := StartHA(ctx, HAOptions{Durability: Strict, Log: io.Discard})
	if err != nil {
		t.Fatalf("StartHA: %v", err)
	}
	dir := h.Dir()
	defer h.Stop()
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, h.URL("evento"))
		if err != nil {
			t.Fatalf("connect through %s: %v", h.url("evento").Redacted(), err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	count := func() int {
		t.Helper()
		conn, err := pgx.Connect(ctx, h.URL("evento"))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	// The same locks as a single throwaway server: no way in without
	// the password, and no switchover for whoever reaches the REST API.
	if conn, err := pgx.Connect(ctx, strings.Replace(h.URL("evento"), h.password, "wrong", 1)); err == nil {
		conn.Close(ctx)
		t.Error("a wrong password got in")
	}
	primary, err := h.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(h.member(primary).api("/switchover"), "application/json", strings.NewReader(`{"leader":"`+primary+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a switchover without the REST API's password: %s, want 401", resp.Status)
	}
	exec("CREATE TABLE t (id int)")
	exec("INSERT INTO t VALUES (1)")
	old, new, down, err := h.Failover(ctx)
	if err != nil {
		t.Fatalf("Failover: %v", err)
	}
	t.Logf("failover from %s to %s: %s without a primary", old, new, down.Round(10*time.Millisecond))
	if old == new {
		t.Errorf("failover kept %s as the primary", old)
	}
	exec("INSERT INTO t VALUES (2)")
	if n := count(); n != 2 {
		t.Errorf("rows after failover: %d, want 2 (the one committed before it, in strict mode, and one after)", n)
	}
	next, err := h.Switchover(ctx)
	if err != nil {
		t.Fatalf("Switchover: %v", err)
	}
	if next != old {
		t.Errorf("switchover went to %s, want %s", next, old)
	}
	if n := count(); n != 2 {
		t.Errorf("rows after switchover: %d, want 2", n)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Stop (%v)", dir, err)
	}
}

// TestHASyncCancelTrap reproduces, step by step, the trap that Evento's
// --query-timeout sets for itself in strict mode: a COMMIT waiting for the
// synchronous standby whose client gives up (a context deadline: pgx
// cancels the query and drops the connection) is kept on the primary,
// visible to everyone there, though the standby never got it; a failover
// then loses it. What a server does with such a commit (and with a
// replay of its key meanwhile) decides whether a client is lied to; this
// test pins down only what PostgreSQL and Patroni do.
func TestHASyncCancelTrap(t *testing.T) {
	needHA(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := StartHA(ctx, HAOptions{Durability: Strict, Log: io.Discard})
	if err != nil {
		t.Fatalf("StartHA: %v", err)
	}
	defer h.Stop()
	connect := func() *pgx.Conn {
		t.Helper()
		conn, err := pgx.Connect(ctx, h.URL("evento"))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		return conn
	}
	count := func() int {
		t.Helper()
		conn := connect()
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	setup := connect()
	if _, err := setup.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
		t.Fatal(err)
	}
	setup.Close(ctx)

	// 1. The standby stops receiving: strict commits must wait.
	primary, err := h.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	senders := h.walSenders(h.member(primary))
	if len(senders) == 0 {
		t.Fatal("no WAL sender")
	}
	for _, pid := range senders {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	// 2. A commit waits for the standby until its client gives up.
	conn := connect()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	commitCtx, commitCancel := context.WithTimeout(ctx, time.Second)
	err = tx.Commit(commitCtx)
	commitCancel()
	t.Logf("COMMIT after the client's 1 s deadline: %v", err)
	if err == nil {
		t.Fatal("a strict COMMIT returned while the standby received nothing")
	}
	// 3. The primary keeps it anyway, visible to every session there.
	var seen int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if seen = count(); seen == 1 {
			break
		}
	}
	if seen != 1 {
		t.Fatalf("rows on the primary after the cancelled COMMIT: %d; the trap needs 1 (committed locally)", seen)
	}
	// 4. The primary dies before the standby got it: the row is gone.
	if _, _, _, err := h.Failover(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("rows after the failover: %d; the trap loses the locally committed row, want 0", n)
	}
}

// TestHAPortTaken: a member's port is bound by another process between
// the pick and PostgreSQL's bind, as parallel tests did in CI (pg2 logged
// "could not create any TCP/IP sockets" and Patroni retried the same port
// until the 90 s bound). The pair starts again on new ports.
func TestHAPortTaken(t *testing.T) {
	needHA(t)
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
		if calls == 5 { // the second member's PostgreSQL (etcd takes two)
			return takenPort, nil
		}
		return freePort()
	}
	t.Cleanup(func() { pickPort = freePort })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := StartHA(ctx, HAOptions{Log: io.Discard})
	if err != nil {
		t.Fatalf("StartHA after a taken port: %v", err)
	}
	defer h.Stop()
	if calls != 12 {
		t.Errorf("%d port picks; want 6 for the pair that lost its port and 6 for the one that started", calls)
	}
}
