package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ServerSpec says how to start one `evento serve` process.
type ServerSpec struct {
	Executable  string   // the evento binary, usually os.Executable()
	DatabaseURL string   // every server shares this one database
	Args        []string // extra flags for `evento serve`
	// MigrateURL, when set, is a direct URL the servers migrate over
	// (serve --migrate-url), DatabaseURL being a transaction pooler.
	MigrateURL string
	// Procs is each server's GOMAXPROCS (0: Go's default, all cores).
	Procs int
}

// ServerProcs is the GOMAXPROCS of each of n servers on this machine:
// their share of the cores this process may use, at least one; 0 (Go's
// default) for a server alone. The servers share the machine with each
// other, PostgreSQL and the clients; with every core each, a server's
// idle threads spin and wake one another for work one thread does (about
// an eighth of its CPU per booking at 64 clients on 2 cores).
func ServerProcs(n int) int {
	if n <= 1 {
		return 0
	}
	return max(1, runtime.GOMAXPROCS(0)/n)
}

// serverEnv is a server's environment: the lab's, with the database URLs,
// its GOMAXPROCS unless the lab sets one, and sysmonAwake unless the lab's
// GODEBUG has a schedtrace of its own.
func serverEnv(spec ServerSpec) []string {
	env := append(os.Environ(), "DATABASE_URL="+spec.DatabaseURL, "EVENTO_DATABASE_URL="+spec.DatabaseURL,
		"EVENTO_MIGRATE_URL="+spec.MigrateURL)
	if _, set := os.LookupEnv("GOMAXPROCS"); !set && spec.Procs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(spec.Procs))
	}
	if godebug := os.Getenv("GODEBUG"); !strings.Contains(godebug, "schedtrace=") {
		env = append(env, "GODEBUG="+strings.TrimPrefix(godebug+","+sysmonAwake, ","))
	}
	return env
}

// sysmonAwake keeps a server's sysmon, the Go runtime's monitor thread,
// from its deep sleep. A server whose one P (GOMAXPROCS=1) runs out of
// goroutines after every request and every answer from PostgreSQL sends
// sysmon to sleep each time; its next system call wakes it again (a
// futex), and sysmon, betting on more, then polls every 20 µs for a
// millisecond and takes the P from any system call that spans a poll
// (another thread, another futex). Kept awake, it is never woken that way
// and backs off to one poll every 10 ms. Counted with perf at 64 clients:
// 2.6 futex calls and 2 sleeps a booking, 6.4 context switches where 2.6
// remain without them, and a tenth to a third of a server's CPU per
// booking (docs/performance.md, "Where the time goes"). Go has no setting
// for sysmon (golang/go#18236); a schedtrace period only keeps it from the
// deep sleep. This one is 24.8 days, the most GODEBUG takes. What else it
// does: an idle server's sysmon polls every 10 ms (100 wake-ups a second)
// instead of sleeping until its next timer; a server prints one scheduler
// line to its stderr every 24.8 days, the first counted from the
// machine's boot (so at its start on a machine up longer); a crash
// (an unrecovered panic or a fatal error) prints the scheduler's whole
// state first, and a fatal error inside the scheduler itself, a runtime
// bug, may hang the server on its own lock instead of ending it.
const sysmonAwake = "schedtrace=2147483647"

// ServerProcess is a running `evento serve` child process.
type ServerProcess struct {
	URL      string
	AdminURL string // its /metrics, on a loopback port of its own
	cmd      *exec.Cmd
	stderr   *tailBuffer
	exited   chan struct{}
	err      error // set before exited closes
}

// StartServers starts n separate server processes on free loopback ports
// and waits until each answers /healthz. Separate processes, not goroutines:
// each has its own pool and memory, so no in-process shortcut can hide a race.
func StartServers(ctx context.Context, spec ServerSpec, n int) ([]*ServerProcess, error) {
	servers := make([]*ServerProcess, 0, n)
	for i := range n {
		s, err := startServerAt(ctx, spec, "127.0.0.1:0")
		if err != nil {
			StopServers(servers)
			return nil, fmt.Errorf("start server %d of %d: %w", i+1, n, err)
		}
		servers = append(servers, s)
	}
	for i, s := range servers {
		if err := s.waitHealthy(ctx); err != nil {
			StopServers(servers)
			return nil, fmt.Errorf("server %d (%s): %w", i+1, s.URL, err)
		}
	}
	return servers, nil
}

// startServerAt starts a server listening on addr: a free port, or the
// port of a server that died, so that clients find it where it was.
func startServerAt(ctx context.Context, spec ServerSpec, addr string) (*ServerProcess, error) {
	// Flags outrank the EVENTO_* environment the child inherits: without
	// them, EVENTO_EMBEDDED=true would give each server a database of its own.
	args := append([]string{"serve", "--addr", addr, "--admin-addr", "127.0.0.1:0", "--log-level", "warn",
		"--embedded=false", "--db-dir", ""}, spec.Args...)
	cmd := exec.Command(spec.Executable, args...)
	// The database URL, password and all, goes in the environment, which
	// only its user can read, not on the command line, which ps shows to
	// everyone. The last of duplicate variables wins, so an inherited
	// EVENTO_DATABASE_URL cannot override it.
	cmd.Env = serverEnv(spec)
	cmd.SysProcAttr = childProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &ServerProcess{cmd: cmd, stderr: newTailBuffer(20), exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", spec.Executable, err)
	}

	// The server's first two stdout lines name the ports it got.
	lines := make(chan string, len(addressLines))
	go func() {
		scanner := bufio.NewScanner(stdout)
		for range addressLines {
			if !scanner.Scan() {
				break
			}
			lines <- scanner.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()

	timeout := time.After(30 * time.Second)
	urls := make([]string, 0, len(addressLines))
	for _, prefix := range addressLines {
		select {
		case line, ok := <-lines:
			url, found := strings.CutPrefix(line, prefix)
			if !ok || !found {
				s.Stop()
				return nil, fmt.Errorf("server did not report its addresses: %q; its log: %s", line, s.stderr)
			}
			urls = append(urls, url)
		case <-timeout:
			s.Stop()
			return nil, fmt.Errorf("server did not start within 30s; its log: %s", s.stderr)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		}
	}
	s.URL, s.AdminURL = urls[0], urls[1]
	return s, nil
}

// addressLines start the lines on which `evento serve` names its public
// and admin addresses, in this order.
var addressLines = []string{"evento: serving on ", "evento: admin on "}

func (s *ServerProcess) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before it was healthy (%v); its log: %s", s.err, s.stderr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("not healthy within 30s; its log: %s", s.stderr)
}

// Kill ends the server at once (SIGKILL), as a crash or an OOM kill would:
// its in-flight requests get no answer, its transactions roll back.
func (s *ServerProcess) Kill() {
	_ = s.cmd.Process.Kill() // os.ErrProcessDone if it has exited already
	<-s.exited
}

// Pause freezes the server (SIGSTOP), as a long GC pause, a swapped-out
// or descheduled VM would: its connections stay open, its transactions
// stay open on the database, and nothing it holds is let go until Resume
// or the database's own timeouts.
func (s *ServerProcess) Pause() error {
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause server %s: %w", s.URL, err)
	}
	return nil
}

// Resume lets a paused server go on (SIGCONT).
func (s *ServerProcess) Resume() error {
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume server %s: %w", s.URL, err)
	}
	return nil
}

// Stop asks the server to shut down gracefully and waits; a server that
// has not stopped after 10 seconds is killed. It reports how it ended.
func (s *ServerProcess) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM) // os.ErrProcessDone if it has exited already
	// A stopped process keeps SIGTERM pending until it runs again: a
	// server left paused would otherwise be killed after 10s, not stopped.
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("server %s ignored SIGTERM for 10s and was killed; its log: %s", s.URL, s.stderr)
	}
	if s.err != nil {
		return fmt.Errorf("server %s: %w; its log: %s", s.URL, s.err, s.stderr)
	}
	return nil
}

// StopServers stops every server, concurrently, and joins their errors.
func StopServers(servers []*ServerProcess) error {
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { errs[i] = s.Stop() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// tailBuffer keeps the last lines written to it, for error messages.
type tailBuffer struct {
	mu   sync.Mutex
	max  int
	text []byte // at most max whole lines, then the start of the next
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.text = append(t.text, p...)
	if lines := bytes.Split(t.text, []byte("\n")); len(lines) > t.max+1 {
		t.text = bytes.Join(lines[len(lines)-t.max-1:], []byte("\n"))
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.text) == 0 {
		return "(empty)"
	}
	return strings.ReplaceAll(string(t.text), "\n", " | ")
}
