package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// startAttempts covers the window between picking a free port and
	// postgres binding it, in which another process may take it.
	startAttempts = 3
	readyTimeout  = 30 * time.Second
)

// errPortTaken means postgres lost the race for its port; another port may work.
var errPortTaken = errors.New("port already in use")

// process is one postmaster we spawned.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait returned
	err    error         // cmd.Wait's result; read only after exited is closed
}

func (s *Server) launch(ctx context.Context) error {
	var err error
	for range startAttempts {
		var port int
		if port, err = pickPort(); err != nil {
			return err
		}
		if err = s.startPostgres(ctx, port); !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return err
}

// pickPort is a variable so tests can hand out a port that is taken.
var pickPort = freePort

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) startPostgres(ctx context.Context, port int) error {
	logf, err := os.Create(s.logPath)
	if err != nil {
		return fmt.Errorf("create postgres log: %w", err)
	}
	args := []string{
		"-D", s.dataDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + s.runDir,
		"-c", "max_connections=" + strconv.Itoa(s.opts.MaxConnections),
		"-c", "shared_buffers=128MB",
	}
	if !s.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	// Not exec.CommandContext and not pg_ctl: the server must outlive ctx
	// (which only bounds startup) and we want the postmaster as our own
	// child, so Stop can signal and reap it.
	cmd := exec.Command(filepath.Join(s.binDir, "postgres"), args...)
	cmd.Dir = s.runDir
	// A file rather than a pipe: postgres keeps logging after Start returns
	// without needing a goroutine of ours to drain it.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr(s.account)
	err = cmd.Start()
	logf.Close() // postgres holds its own descriptor
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	s.proc, s.port = p, port

	if err := s.waitReady(ctx); err != nil {
		if errors.Is(err, errPortTaken) {
			s.proc = nil // already reaped; nothing for Stop to do
		}
		return err
	}
	return nil
}

// waitReady polls until the server accepts a connection, it exits, or we
// give up; on failure the error carries the end of the server log.
func (s *Server) waitReady(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(s.URL("postgres"))
	if err != nil {
		return err
	}
	// Poll through the socket in our private directory, not TCP: if another
	// server grabbed the port before ours bound it, TCP would reach that
	// one. Postgres binds TCP before it creates the socket, so an answer
	// here also means the port is ours.
	cfg.Host, cfg.Fallbacks = s.runDir, nil
	deadline := time.Now().Add(readyTimeout)
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.ConnectConfig(attemptCtx, cfg)
		cancel()
		if err == nil {
			return conn.Close(ctx)
		}
		// "the database system is starting up" is expected; any other
		// answer from the server will not improve by waiting.
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code != pgerrcode.CannotConnectNow {
			return fmt.Errorf("connect to new server: %w", err)
		}
		select {
		case <-s.proc.exited:
			return s.exitError()
		case <-ctx.Done():
			return fmt.Errorf("waiting for postgres to start: %w; last log lines:\n%s", ctx.Err(), tailFile(s.logPath, 15))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within %s; last log lines:\n%s", readyTimeout, tailFile(s.logPath, 15))
		}
	}
}

var otherPostmaster = regexp.MustCompile(`another postmaster \(PID ([0-9]+)\)`)

// exitError explains why postgres exited during startup, recognising the
// failures the caller can act on.
func (s *Server) exitError() error {
	log, _ := os.ReadFile(s.logPath)
	switch {
	case bytes.Contains(log, []byte("could not bind")) || bytes.Contains(log, []byte("Address already in use")):
		return fmt.Errorf("postgres on port %d: %w", s.port, errPortTaken)
	case s.inUseError(log) != nil:
		return s.inUseError(log)
	}
	return fmt.Errorf("postgres exited during startup (%v); last log lines:\n%s", s.proc.err, tail(log, 15))
}

// inUseError is the error for a postgres whose log says that another
// server runs on the data directory, and nil for any other log.
func (s *Server) inUseError(log []byte) error {
	if !bytes.Contains(log, []byte(`lock file "postmaster.pid" already exists`)) {
		return nil
	}
	pid := "unknown PID"
	if m := otherPostmaster.FindSubmatch(log); m != nil {
		pid = "PID " + string(m[1])
	}
	return fmt.Errorf("data directory %s is already used by a running PostgreSQL server (%s); stop it or choose another directory", s.dataDir, pid)
}

// terminate stops the postmaster, escalating if it does not exit in time:
// SIGINT is a fast shutdown (sessions aborted, checkpoint written), SIGQUIT
// an immediate one (crash recovery on next start), SIGKILL the last resort.
func (p *process) terminate() error {
	pid := p.cmd.Process.Pid
	steps := []struct {
		sig   syscall.Signal
		grace time.Duration
	}{
		{syscall.SIGINT, 10 * time.Second},
		{syscall.SIGQUIT, 5 * time.Second},
		{syscall.SIGKILL, 5 * time.Second},
	}
	for _, step := range steps {
		select {
		case <-p.exited:
			return nil
		default:
		}
		// An error here means it exited meanwhile, which the select sees.
		_ = p.cmd.Process.Signal(step.sig)
		if step.sig == syscall.SIGKILL {
			// The postmaster's process group (ours alone, thanks to
			// Setpgid) holds it and its helpers; backends lead groups of
			// their own (setsid) and exit once they notice it is gone.
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		select {
		case <-p.exited:
			return nil
		case <-time.After(step.grace):
		}
	}
	return fmt.Errorf("postgres (pid %d) still running after SIGKILL", pid)
}
