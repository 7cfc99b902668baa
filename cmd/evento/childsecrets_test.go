package main

import (
	"bufio"
	"bytes"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evento-lab/evento/db/localpg"
)

// Every user of the machine reads every command line (ps,
// /proc/PID/cmdline). The processes a run starts — its evento serve
// servers, PostgreSQL, PgBouncer — get the database's password (random:
// the throwaway cluster admits only its holder) through their environment
// or a file, and no API key at all; none shows either on its command line.
func TestSecretsNeverOnSpawnedCommandLines(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("no /proc to read command lines from")
	}
	args := []string{"--embedded", "--auth", "--servers", "2", "--clients", "10", "--rooms", "100000", "--hotels", "1",
		"--strategy", "atomic", "--think", "50ms-100ms", "--json", "--progress"}
	if _, err := localpg.FindPgBouncer(); err == nil {
		args = append(args, "--pgbouncer")
	}
	run := exec.Command(evento, args...)
	run.Env = append(os.Environ(), "DATABASE_URL=")
	var stderr lockedBuffer
	pipe, err := run.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Process.Kill(); _ = run.Wait() })

	// Interrupted once it books: with the servers up and the clients
	// added (an interrupt while it adds them was a test of its own).
	waitForABooking(t, bufio.NewScanner(io.TeeReader(pipe, &stderr)))
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&stderr, pipe); close(copied) }()
	var servers []int
	for deadline := time.Now().Add(time.Minute); len(servers) < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no two evento serve processes within a minute; stderr:\n%s", stderr.String())
		}
		servers = servers[:0]
		for _, pid := range descendants(run.Process.Pid) {
			if args := commandLine(pid); len(args) > 1 && args[0] == evento && args[1] == "serve" {
				servers = append(servers, pid)
			}
		}
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(servers[0]) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	var password string
	for v := range bytes.SplitSeq(environ, []byte{0}) {
		if raw, ok := bytes.CutPrefix(v, []byte("DATABASE_URL=")); ok {
			if u, err := url.Parse(string(raw)); err == nil && u.User != nil {
				password, _ = u.User.Password()
			}
		}
	}
	if len(password) < 16 {
		t.Fatalf("a server's DATABASE_URL holds no random password (%q)", password)
	}

	children := descendants(run.Process.Pid)
	var names []string
	for _, pid := range children {
		line := strings.Join(commandLine(pid), " ")
		names = append(names, strings.Fields(line + " ?")[0])
		if strings.Contains(line, "evk_") {
			t.Errorf("process %d's command line holds an API key: %s", pid, line)
		}
	}
	// Every process on the machine, not only ours: the password is random.
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if pid, err := strconv.Atoi(p.Name()); err == nil && strings.Contains(strings.Join(commandLine(pid), " "), password) {
			t.Errorf("process %d's command line holds the database password: %q", pid, commandLine(pid))
		}
	}
	t.Logf("read the command lines of the run's %d processes: %v", len(children), names)

	if err := run.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-copied // the pipe is read to its end before Wait closes it
	if err := run.Wait(); err != nil && !strings.Contains(err.Error(), "130") {
		t.Errorf("evento run after SIGINT: %v; stderr:\n%s", err, stderr.String())
	}
}

// commandLine is the arguments of process pid; nil once it is gone.
func commandLine(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// descendants is every live process below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		child, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + p.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 {
			if parent, err := strconv.Atoi(fields[1]); err == nil {
				children[parent] = append(children[parent], child)
			}
		}
	}
	var all []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		all = append(all, children[queue[0]]...)
		queue = append(queue, children[queue[0]]...)
	}
	return all
}

// lockedBuffer is a bytes.Buffer a reader and a writer may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
