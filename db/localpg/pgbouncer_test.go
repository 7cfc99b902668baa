package localpg

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// needPgBouncer skips a test on a machine without pgbouncer, except on CI
// (CI=true), which installs it (.ci/run).
func needPgBouncer(t *testing.T) {
	t.Helper()
	if _, err := FindPgBouncer(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v, and CI=true: .ci/run installs it", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// TestPgBouncerTransactionPooling starts a real PgBouncer in front of a
// throwaway server and checks what Evento relies on: it lets a client
// through as the server's user, pools by transaction (many clients, at most
// PoolSize server sessions), sets READ COMMITTED on every server session,
// and leaves nothing behind.
func TestPgBouncerTransactionPooling(t *testing.T) {
	needPgBouncer(t)
	ctx := testCtx(t)
	s := startServer(t, Options{})
	const poolSize = 2
	b, err := StartPgBouncer(ctx, PgBouncerOptions{Upstream: s.URL("postgres"), PoolSize: poolSize, Log: io.Discard})
	if err != nil {
		t.Fatalf("StartPgBouncer: %v", err)
	}
	dir := b.Dir()
	defer b.Stop()

	cfg, err := pgx.ParseConfig(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	direct := connect(t, ctx, s.URL("postgres"))

	// Eight clients each hold a transaction open for a while: PgBouncer
	// must queue them on its two server sessions.
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	levels := make(chan string, clients)
	for range clients {
		wg.Go(func() {
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(context.Background())
			err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				var level string
				if err := tx.QueryRow(ctx, "SELECT current_setting('transaction_isolation')").Scan(&level); err != nil {
					return err
				}
				levels <- level
				_, err := tx.Exec(ctx, "SELECT pg_sleep(0.2)")
				return err
			})
			if err != nil {
				errs <- err
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	peak := 0
	for sampling := true; sampling; {
		var n int
		if err := direct.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, n)
		select {
		case <-done:
			sampling = false
		case <-time.After(20 * time.Millisecond):
		}
	}
	close(errs)
	close(levels)
	for err := range errs {
		t.Errorf("client through pgbouncer: %v", err)
	}
	for level := range levels {
		if level != "read committed" {
			t.Errorf("a server session's isolation is %q, want read committed (connect_query)", level)
		}
	}
	// Its own check at startup may leave one more session idle, but never
	// past the pool.
	if peak < 1 || peak > poolSize {
		t.Errorf("peak server sessions from pgbouncer: %d, want 1 to %d", peak, poolSize)
	}

	if err := b.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pgbouncer's directory %s still exists after Stop (%v)", dir, err)
	}
	if _, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		t.Error("pgbouncer still answers after Stop")
	}
}

// TestPgBouncerPassword checks a password-protected upstream: PgBouncer
// then asks clients for the same password, and the password reaches
// neither its command line nor the notice.
func TestPgBouncerPassword(t *testing.T) {
	needPgBouncer(t)
	ctx := testCtx(t)
	const password = "s3cret'\"pw"
	s := startServer(t, Options{Password: password})
	var notice strings.Builder
	b, err := StartPgBouncer(ctx, PgBouncerOptions{Upstream: s.URL("postgres"), Log: &notice})
	if err != nil {
		t.Fatalf("StartPgBouncer: %v", err)
	}
	defer b.Stop()
	if strings.Contains(notice.String(), password) {
		t.Errorf("the notice shows the password: %s", notice.String())
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(b.cmd.Process.Pid) + "/cmdline")
	if err == nil && strings.Contains(string(cmdline), password) {
		t.Errorf("pgbouncer's command line holds the password")
	}
	conn := connect(t, ctx, b.URL())
	if _, err := conn.Exec(ctx, "SELECT 1", pgx.QueryExecModeExec); err != nil {
		t.Fatalf("query through pgbouncer with the password: %v", err)
	}
	wrong := strings.Replace(b.URL(), "s3cret", "wrong", 1)
	if c, err := pgx.Connect(ctx, wrong); err == nil {
		c.Close(ctx)
		t.Error("pgbouncer let a client in with a wrong password")
	}
}

// TestFindPgBouncerMissing checks the one-line hint when there is none.
func TestFindPgBouncerMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("PGBOUNCER", "")
	saved := pgBouncerPaths
	pgBouncerPaths = nil
	t.Cleanup(func() { pgBouncerPaths = saved })
	_, err := FindPgBouncer()
	if !errors.Is(err, ErrNoPgBouncer) || !strings.Contains(err.Error(), "apt-get install pgbouncer") || strings.Contains(err.Error(), "\n") {
		t.Errorf("FindPgBouncer with none installed: %v, want one line naming apt-get install pgbouncer", err)
	}
}

// TestPgBouncerAnswersAQueryThatWaitedTooLong: with QueryWaitTimeout, a
// query queued behind a full pool gets PgBouncer's own error once it has
// waited that long, while the client still waits for it. Without it the
// query stays queued until the client's deadline, and pgx then cancels it
// with a cancel request, which PgBouncer 1.18 forwards on a connection of
// the pool: the traffic that, under load, left a pool serving only cancels
// (lab.ServerPool).
func TestPgBouncerAnswersAQueryThatWaitedTooLong(t *testing.T) {
	needPgBouncer(t)
	ctx := testCtx(t)
	s := startServer(t, Options{})
	b, err := StartPgBouncer(ctx, PgBouncerOptions{Upstream: s.URL("postgres"), PoolSize: 1, QueryWaitTimeout: time.Second, Log: io.Discard})
	if err != nil {
		t.Fatalf("StartPgBouncer: %v", err)
	}
	defer b.Stop()
	cfg, err := pgx.ParseConfig(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	holder, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	// The pool's one server connection, kept by an open transaction.
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	waiter, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close(ctx)
	// Far past query_wait_timeout: the error must come from PgBouncer.
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = waiter.Exec(waitCtx, "SELECT 1")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || waitCtx.Err() != nil {
		t.Fatalf("queued query: %v (deadline %v), want PgBouncer's error before the client's deadline", err, waitCtx.Err())
	}
	t.Logf("PgBouncer answered the queued query: SQLSTATE %s %q", pgErr.Code, pgErr.Message)
}
