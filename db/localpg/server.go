package localpg

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// Options configures Start.
type Options struct {
	// Dir keeps the cluster in this directory between runs: initdb runs
	// once, later starts reuse it. Empty means a temporary directory that
	// Stop removes.
	Dir string
	// Durable keeps PostgreSQL's crash-safety defaults. When false, fsync,
	// synchronous_commit and full_page_writes are off, which is much faster
	// and fine for data that is thrown away anyway (tests).
	Durable bool
	// Database is the database named in the started notice's URL; "" means
	// postgres.
	Database string
	// MaxConnections sets max_connections; 0 means 200.
	MaxConnections int
	// Password is the superuser's password, which every login must give
	// (scram-sha-256), over TCP and the socket alike; empty means a random
	// one, known only to this process and to whoever it hands URL. Tests
	// set it to stand in for a server a distribution's package installed.
	// A Dir that already holds a cluster gets it too, at every Start.
	Password string
	// SmallDisk, when above 0, puts the data directory (not the WAL) on a
	// tmpfs of that many bytes, so that FillDisk can fill it as a full
	// disk would be: relation files then cannot grow (SQLSTATE 53100),
	// while the WAL, elsewhere, keeps PostgreSQL up (a WAL that cannot
	// be written is a PANIC, which CrashPostgres already covers). Root
	// only, to mount it; throwaway clusters only (Dir empty).
	SmallDisk int64
	// Log receives the one-line notice that the server started; nil means
	// os.Stderr. Tests pass io.Discard.
	Log io.Writer
}

// Server is a PostgreSQL server started by Start. Its superuser is
// "postgres", reachable on 127.0.0.1 and a socket in a directory only the
// server's OS user may enter, with Options.Password only.
type Server struct {
	opts    Options
	binDir  string
	version string   // "PostgreSQL 15.18", for the notice
	account *account // nil unless we are root and must drop privileges
	runDir  string   // temporary: socket, log, and the data unless opts.Dir
	dataDir string
	logPath string
	port    int
	proc    *process

	stopOnce sync.Once
	stopErr  error
}

const defaultMaxConnections = 200

// Start runs initdb if needed, starts postgres on a free loopback port and
// waits until it accepts connections. ctx bounds only the startup; the
// server runs until Stop, which the caller must call on every exit path.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	if opts.MaxConnections < 0 {
		return nil, fmt.Errorf("localpg: MaxConnections is %d, want 0 (default) or more", opts.MaxConnections)
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = defaultMaxConnections
	}
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	if opts.Password == "" {
		// 128 random bits: any user of the machine can try to log in over
		// 127.0.0.1, so the password is the lock.
		opts.Password = rand.Text()
	}
	binDir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, binDir: binDir, account: acct}
	defer func() {
		if err != nil {
			_ = s.Stop() // the startup error is the one worth reporting
		}
	}()
	s.version = serverVersion(ctx, binDir)
	if err := s.prepareDirs(); err != nil {
		return nil, err
	}
	if err := s.ensureCluster(ctx); err != nil {
		return nil, err
	}
	if err := s.launch(ctx); err != nil {
		return nil, err
	}
	// The notice names the URL, so that other commands (evento seed, psql)
	// can reach the same server while this one runs.
	database := opts.Database
	if database == "" {
		database = "postgres"
	}
	// The password stays out of it: a notice ends up in terminals and
	// logs (WriteURLFile hands the whole URL over).
	shown := s.url(database).Redacted()
	if opts.Dir == "" {
		fmt.Fprintf(opts.Log, "evento: started throwaway %s at %s (data in %s; removed on exit)\n", s.version, shown, s.dataDir)
	} else {
		fmt.Fprintf(opts.Log, "evento: started %s at %s (data kept in %s)\n", s.version, shown, s.dataDir)
	}
	return s, nil
}

// prepareDirs creates the private run directory (socket and log) and the
// data directory, and hands them to the account postgres runs as.
func (s *Server) prepareDirs() error {
	// First what killed runs left: each throwaway cluster is tens of
	// megabytes, and a run killed with SIGKILL cannot delete its own.
	removeLeftovers(shortTempDir(), s.opts.Log)
	runDir, err := os.MkdirTemp(shortTempDir(), "evento-pg-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	s.runDir = runDir
	if err := writeOwner(runDir); err != nil {
		return err
	}
	s.logPath = filepath.Join(runDir, "postgres.log")
	if err := s.account.chown(runDir); err != nil {
		return err
	}
	if err := s.account.checkCanReach(runDir); err != nil {
		return err
	}
	if s.opts.Dir == "" {
		s.dataDir = filepath.Join(runDir, "data")
		if err := os.Mkdir(s.dataDir, 0o700); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
		if s.opts.SmallDisk > 0 {
			return mountSmallDisk(s.dataDir, s.opts.SmallDisk, s.account)
		}
		return s.account.chown(s.dataDir)
	}
	if s.opts.SmallDisk > 0 {
		return errors.New("localpg: a small disk is for throwaway clusters only, not a kept data directory")
	}

	dir, err := filepath.Abs(s.opts.Dir)
	if err != nil {
		return err
	}
	s.dataDir = dir
	// Check before creating anything, so a refusal leaves no litter.
	if err := s.account.checkCanReach(existingAncestor(dir)); err != nil {
		return err
	}
	// Parents we create must stay traversable for the account; only the
	// data directory itself is private.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := s.account.checkCanReach(filepath.Dir(dir)); err != nil {
		return err
	}
	// A directory that root owns was just made (by us or by the user) for
	// this purpose. One owned by somebody else is left alone: if postgres
	// cannot use it, its own error message says why.
	if fi, err := os.Stat(dir); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == 0 {
			if err := s.account.chown(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// existingAncestor returns dir, or its nearest ancestor that exists.
func existingAncestor(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// shortTempDir keeps the socket path short: Unix socket paths are limited to
// about 104 bytes, and macOS's per-user TMPDIR alone uses half of that.
func shortTempDir() string {
	dir := os.TempDir()
	if len(dir) > 40 {
		if fi, err := os.Stat("/tmp"); err == nil && fi.IsDir() {
			return "/tmp"
		}
	}
	return dir
}

// URL returns a connection URL for database on this server, as the
// superuser "postgres" with its password, e.g.
// postgres://postgres:PASSWORD@127.0.0.1:PORT/DATABASE?sslmode=disable.
// It is a secret: pass it to child processes in their environment or a
// file, never their command line.
func (s *Server) URL(database string) string {
	u := s.url(database)
	return u.String()
}

func (s *Server) url(database string) *url.URL {
	return loopbackURL("postgres", s.opts.Password, s.port, database)
}

// WriteURLFile writes url, a URL of this server such as URL returns, to
// a file that only the current user may read, in the server's private
// directory, so that the owner's other shells can reach the server
// (DATABASE_URL="$(cat FILE)") without the password ever being shown;
// Stop removes it. It returns the file's path.
func (s *Server) WriteURLFile(url string) (string, error) {
	path := filepath.Join(s.runDir, "database-url")
	if err := os.WriteFile(path, []byte(url+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the database URL: %w", err)
	}
	return path, nil
}

// loopbackURL is a URL of a server this package started on 127.0.0.1
// (PostgreSQL or PgBouncer); no TLS on loopback.
func loopbackURL(user, password string, port int, database string) *url.URL {
	u := url.User(user)
	if password != "" {
		u = url.UserPassword(user, password)
	}
	return &url.URL{
		Scheme:   "postgres",
		User:     u,
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DataDir returns the cluster's data directory.
func (s *Server) DataDir() string { return s.dataDir }

// PID returns the process id of the postmaster.
func (s *Server) PID() int {
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Stop shuts the server down (fast shutdown, escalating to immediate
// shutdown and SIGKILL if it hangs) and removes the temporary directories;
// a Dir given in Options is kept. It is idempotent and safe to call from
// several goroutines, e.g. a deferred call racing a signal handler.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	var errs []error
	if s.proc != nil {
		errs = append(errs, s.proc.terminate())
	}
	// Only after postgres exited: it would recreate files while we delete.
	if s.runDir != "" {
		if s.opts.SmallDisk > 0 {
			if err := unmountSmallDisk(s.dataDir); err != nil {
				errs = append(errs, err)
			}
		}
		if err := os.RemoveAll(s.runDir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", s.runDir, err))
		}
	}
	return errors.Join(errs...)
}

// ErrSmallDiskNeedsRoot is Options.SmallDisk asked of a process that cannot
// mount a tmpfs: not root, or not Linux.
var ErrSmallDiskNeedsRoot = errors.New("a small disk to fill needs root on Linux (it mounts a tmpfs for the throwaway cluster's data)")

// FillDisk fills the small disk (Options.SmallDisk) that holds the data
// directory, until FreeDisk: a table or index that must grow cannot.
func (s *Server) FillDisk() error {
	if s.opts.SmallDisk <= 0 {
		return errors.New("localpg: FillDisk on a server started without a small disk")
	}
	return fillDisk(s.dataDir)
}

// FreeDisk undoes FillDisk.
func (s *Server) FreeDisk() error { return freeDisk(s.dataDir) }
