package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPgBouncer is returned when no pgbouncer executable can be found. Its
// message is a single line telling the user what to install or configure.
var ErrNoPgBouncer = errors.New("no pgbouncer binary found: install it (apt-get install pgbouncer, brew install pgbouncer) or set PGBOUNCER to its path")

// pgBouncerPaths are where distributions put the binary, tried after
// $PGBOUNCER and PATH (Debian's /usr/sbin is not on a normal user's PATH).
// A variable so tests can hide the binary installed on the machine.
var pgBouncerPaths = []string{"/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/opt/homebrew/bin/pgbouncer", "/usr/local/bin/pgbouncer"}

// FindPgBouncer returns the path of the pgbouncer executable: $PGBOUNCER,
// else pgbouncer on PATH, else the conventional install locations. It
// returns an error wrapping ErrNoPgBouncer when nothing qualifies.
func FindPgBouncer() (string, error) {
	env := os.Getenv("PGBOUNCER")
	if env != "" && isExecutable(env) {
		return env, nil
	}
	if path, err := exec.LookPath("pgbouncer"); err == nil {
		return path, nil
	}
	for _, path := range pgBouncerPaths {
		if isExecutable(path) {
			return path, nil
		}
	}
	if env != "" {
		return "", fmt.Errorf("PGBOUNCER=%s is not an executable; %w", env, ErrNoPgBouncer)
	}
	return "", ErrNoPgBouncer
}

// PgBouncerOptions configures StartPgBouncer.
type PgBouncerOptions struct {
	// Upstream is the URL of the database PgBouncer pools connections to;
	// clients reach the same database, as the same user, through URL.
	Upstream string
	// PoolSize is default_pool_size, the most server connections
	// PgBouncer opens to the database; 0 means 20.
	PoolSize int
	// MaxClientConn is max_client_conn, the most client connections; 0
	// means 1000.
	MaxClientConn int
	// QueryWaitTimeout, when positive, is query_wait_timeout: PgBouncer
	// answers a client that waited this long for a server connection with
	// an error, rather than leaving it queued. Set it below the clients'
	// own deadline. A pgx client whose deadline ends while its query waits
	// in PgBouncer's queue closes its connection with a cancel request,
	// and PgBouncer 1.18 forwards each cancel on a server connection of the
	// pool's own (up to twice the pool size): under load the cancels take
	// the pool, the queued queries time out and cancel in turn, and
	// nothing is served at all (docs/api.md, "Behind PgBouncer").
	QueryWaitTimeout time.Duration
	// Log receives the one-line notice that PgBouncer started; nil means
	// os.Stderr.
	Log io.Writer
}

// PgBouncer is a pgbouncer process started by StartPgBouncer, in
// transaction pooling mode, listening on 127.0.0.1 only.
type PgBouncer struct {
	opts     PgBouncerOptions
	binary   string
	account  *account
	upstream *pgx.ConnConfig
	runDir   string // config, auth file, log; removed by Stop
	logPath  string
	port     int
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error // cmd.Wait's result; read only after exited is closed

	stopOnce sync.Once
	stopErr  error
}

const (
	// DefaultPgBouncerPoolSize is PoolSize's 0.
	DefaultPgBouncerPoolSize      = 20
	defaultPgBouncerMaxClientConn = 1000
)

// StartPgBouncer starts a throwaway PgBouncer in front of o.Upstream, in
// transaction pooling mode, and waits until it lets a client through to
// the database. ctx bounds only the startup; PgBouncer runs until Stop,
// which the caller must call on every exit path (its directory holds the
// upstream's password, if any).
func StartPgBouncer(ctx context.Context, o PgBouncerOptions) (_ *PgBouncer, err error) {
	if o.PoolSize < 0 || o.MaxClientConn < 0 {
		return nil, fmt.Errorf("pgbouncer: PoolSize %d and MaxClientConn %d must not be negative", o.PoolSize, o.MaxClientConn)
	}
	if o.PoolSize == 0 {
		o.PoolSize = DefaultPgBouncerPoolSize
	}
	if o.MaxClientConn == 0 {
		o.MaxClientConn = defaultPgBouncerMaxClientConn
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	upstream, err := pgx.ParseConfig(o.Upstream)
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: upstream URL: %w", err)
	}
	binary, err := FindPgBouncer()
	if err != nil {
		return nil, err
	}
	// PgBouncer, like PostgreSQL, refuses to run as root.
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	b := &PgBouncer{opts: o, binary: binary, account: acct, upstream: upstream}
	defer func() {
		if err != nil {
			_ = b.Stop() // the startup error is the one worth reporting
		}
	}()
	if b.runDir, err = os.MkdirTemp(shortTempDir(), "evento-pgbouncer-"); err != nil {
		return nil, fmt.Errorf("pgbouncer: create temp dir: %w", err)
	}
	if err := writeOwner(b.runDir); err != nil {
		return nil, err
	}
	b.logPath = filepath.Join(b.runDir, "pgbouncer.log")
	if err := b.account.chown(b.runDir); err != nil {
		return nil, err
	}
	if err := b.account.checkCanReach(b.runDir); err != nil {
		return nil, err
	}
	for range startAttempts {
		var port int
		if port, err = pickPort(); err != nil {
			return nil, err
		}
		if err = b.launch(ctx, port); !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "evento: started throwaway PgBouncer (transaction pooling, %d server connections) at %s in front of %s:%d\n",
		o.PoolSize, b.url().Redacted(), upstream.Host, upstream.Port)
	return b, nil
}

// URL returns the connection URL of the upstream database through
// PgBouncer: the same database, user and password.
func (b *PgBouncer) URL() string { return b.url().String() }

func (b *PgBouncer) url() *url.URL {
	return loopbackURL(b.upstream.User, b.upstream.Password, b.port, b.upstream.Database)
}

// PoolSize is the most server connections PgBouncer opens to the database.
func (b *PgBouncer) PoolSize() int { return b.opts.PoolSize }

// Port returns the TCP port PgBouncer listens on at 127.0.0.1.
func (b *PgBouncer) Port() int { return b.port }

// Dir returns PgBouncer's temporary directory, which Stop removes.
func (b *PgBouncer) Dir() string { return b.runDir }

// config renders pgbouncer.ini. Clients authenticate as on the upstream:
// trust when its URL holds no password, otherwise (a throwaway server) SCRAM
// with the upstream's password, so that PgBouncer opens the database to no
// one who could not have logged in to it directly.
func (b *PgBouncer) config(port int) (ini, userlist string) {
	u := b.upstream
	authType := "trust"
	if u.Password != "" {
		authType = "scram-sha-256"
	}
	// connect_query runs once per server connection, and a session SET
	// survives transaction pooling (no reset query in that mode): it
	// stands in for the default_transaction_isolation startup parameter
	// that PgBouncer 1.18 refuses from clients (see db.OpenPoolWith).
	db := fmt.Sprintf(`%s = host=%s port=%d dbname=%s user=%s connect_query='SET default_transaction_isolation = "read committed"'`,
		u.Database, u.Host, u.Port, u.Database, u.User)
	if u.Password != "" {
		db += " password=" + pgBouncerQuote(u.Password)
	}
	lines := []string{
		"[databases]",
		db,
		"",
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		"listen_port = " + strconv.Itoa(port),
		// No Unix socket: its default directory, /tmp, is shared, and
		// the servers connect over TCP anyway.
		"unix_socket_dir =",
		"auth_type = " + authType,
		"auth_file = " + filepath.Join(b.runDir, "userlist.txt"),
		"pool_mode = transaction",
		"default_pool_size = " + strconv.Itoa(b.opts.PoolSize),
		// The pool size is the whole bound on server connections: no
		// reserve pool on top, none kept open while idle.
		"min_pool_size = 0",
		"reserve_pool_size = 0",
		"max_client_conn = " + strconv.Itoa(b.opts.MaxClientConn),
		// pgx sends none, but psql and JDBC do; harmless to accept.
		"ignore_startup_parameters = extra_float_digits",
		"logfile =",
		"log_connections = 0",
		"log_disconnections = 0",
		"",
	}
	if b.opts.QueryWaitTimeout > 0 {
		lines = append(lines, "query_wait_timeout = "+strconv.FormatFloat(b.opts.QueryWaitTimeout.Seconds(), 'f', -1, 64), "")
	}
	userlist = fmt.Sprintf("%s %s\n", pgBouncerDoubleQuote(u.User), pgBouncerDoubleQuote(u.Password))
	return strings.Join(lines, "\n"), userlist
}

// pgBouncerQuote quotes a connection-string value for [databases].
func pgBouncerQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// pgBouncerDoubleQuote quotes a userlist.txt field.
func pgBouncerDoubleQuote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// launch writes the configuration for port and starts pgbouncer on it.
func (b *PgBouncer) launch(ctx context.Context, port int) error {
	ini, userlist := b.config(port)
	// 0600 and owned by the account: the files may hold the password.
	for name, content := range map[string]string{"pgbouncer.ini": ini, "userlist.txt": userlist} {
		path := filepath.Join(b.runDir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("pgbouncer: write %s: %w", name, err)
		}
		if err := b.account.chown(path); err != nil {
			return err
		}
	}
	logf, err := os.Create(b.logPath)
	if err != nil {
		return fmt.Errorf("pgbouncer: create log: %w", err)
	}
	// Not exec.CommandContext: PgBouncer outlives ctx, which bounds only
	// the startup; Stop signals and reaps it.
	cmd := exec.Command(b.binary, filepath.Join(b.runDir, "pgbouncer.ini"))
	cmd.Dir = b.runDir
	cmd.Stdout, cmd.Stderr = logf, logf
	attr := sysProcAttr(b.account)
	// SIGTERM is PgBouncer's immediate shutdown; it has no use for the
	// SIGQUIT a postmaster gets.
	setParentDeathSignal(attr, syscall.SIGTERM)
	cmd.SysProcAttr = attr
	err = cmd.Start()
	logf.Close() // pgbouncer holds its own descriptor
	if err != nil {
		return fmt.Errorf("start pgbouncer: %w", err)
	}
	b.cmd, b.port, b.exited = cmd, port, make(chan struct{})
	exited := b.exited
	go func() {
		b.waitErr = cmd.Wait()
		close(exited)
	}()
	return b.waitReady(ctx)
}

// waitReady polls until a client gets through PgBouncer to the database
// (which also proves the upstream settings), PgBouncer exits, or we give up.
func (b *PgBouncer) waitReady(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(b.URL())
	if err != nil {
		return err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.ConnectConfig(attemptCtx, cfg)
		if err == nil {
			_, err = conn.Exec(attemptCtx, "SELECT 1")
			_ = conn.Close(attemptCtx)
		}
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-b.exited:
			return b.exitError()
		case <-ctx.Done():
			return fmt.Errorf("waiting for pgbouncer to start: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("pgbouncer let no client through within %s (%v); last log lines:\n%s", readyTimeout, lastErr, tailFile(b.logPath, 15))
}

// exitError explains why pgbouncer exited during startup.
func (b *PgBouncer) exitError() error {
	log, _ := os.ReadFile(b.logPath)
	if bytes.Contains(log, []byte("Address already in use")) {
		b.cmd = nil // already reaped; nothing for Stop to do
		return fmt.Errorf("pgbouncer on port %d: %w", b.port, errPortTaken)
	}
	return fmt.Errorf("pgbouncer exited during startup (%v); last log lines:\n%s", b.waitErr, tail(log, 15))
}

// Stop shuts PgBouncer down (SIGTERM, its immediate shutdown: the clients
// are expected to be gone; SIGKILL if it hangs) and removes its directory.
// It is idempotent and safe to call from several goroutines.
func (b *PgBouncer) Stop() error {
	b.stopOnce.Do(func() { b.stopErr = b.stop() })
	return b.stopErr
}

func (b *PgBouncer) stop() error {
	var errs []error
	if b.cmd != nil {
		errs = append(errs, b.terminate())
	}
	if b.runDir != "" {
		if err := os.RemoveAll(b.runDir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", b.runDir, err))
		}
	}
	return errors.Join(errs...)
}

func (b *PgBouncer) terminate() error {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		select {
		case <-b.exited:
			return nil
		default:
		}
		_ = b.cmd.Process.Signal(sig) // an error means it exited meanwhile
		select {
		case <-b.exited:
			return nil
		case <-time.After(5 * time.Second):
		}
	}
	return fmt.Errorf("pgbouncer (pid %d) still running after SIGKILL", b.cmd.Process.Pid)
}
