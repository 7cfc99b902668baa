package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evento-lab/evento/db/labdb"
)

// `evento serve` on a throwaway database prints a line to paste into
// another shell, and it works: `evento seed` there writes into the
// database this server reads, instead of a throwaway one of its own.
func TestServeSharesItsThrowawayDatabase(t *testing.T) {
	t.Parallel()
	serve, exports := startServe(t, []string{"DATABASE_URL="}, func(line string) bool {
		return strings.HasPrefix(line, "export DATABASE_URL=")
	}, "--embedded", "--addr", "127.0.0.1:0")
	said, stdout := serve.said, serve.stdout

	first, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(first), "evento: serving on ")
	if err != nil || !ok {
		t.Fatalf("first line on stdout %q (%v); stderr:\n%s", first, err, said())
	}
	go io.Copy(io.Discard, stdout)
	var export string
	select {
	case export = <-exports:
	case <-time.After(5 * time.Second): // written before the serving line we read
		t.Fatalf("no export DATABASE_URL= line on stderr:\n%s", said())
	}

	// The database's password is in a file only its user may read, not on
	// a terminal.
	file, ok := strings.CutPrefix(export, `export DATABASE_URL="$(cat '`)
	file, _, _ = strings.Cut(file, "'")
	if fi, err := os.Stat(file); !ok || err != nil || fi.Mode().Perm() != 0o600 || strings.Contains(export, "postgres://") {
		t.Fatalf("%s: want a line naming a file of mode 0600 that holds the URL, never the URL (%v)", export, err)
	}
	if url, err := os.ReadFile(file); err != nil || !holdsPassword(strings.TrimSpace(string(url))) {
		t.Fatalf("%s holds no URL with a password (%v)", file, err)
	}

	// The line as a user pastes it, in a shell of its own.
	seed := exec.Command("sh", "-c", export+"\n"+`exec "$EVENTO" seed --hotels 1 --rooms 9 --json`)
	seed.Env = append(os.Environ(), "DATABASE_URL=", "EVENTO="+evento)
	var seedOut, seedErr strings.Builder
	seed.Stdout, seed.Stderr = &seedOut, &seedErr
	if err := seed.Run(); err != nil || strings.Contains(seedErr.String(), "throwaway") {
		t.Fatalf("%s; evento seed: %v, stderr %q", export, err, seedErr.String())
	}
	var event labdb.SeededEvent
	if err := json.Unmarshal([]byte(seedOut.String()), &event); err != nil || len(event.Hotels) != 1 {
		t.Fatalf("evento seed printed %q (%v)", seedOut.String(), err)
	}

	resp, err := http.Get(addr + "/" + itoa(event.EventID) + "/" + itoa(event.Hotels[0].HotelID) + "/available")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hotel struct{ Available int }
	if err := json.NewDecoder(resp.Body).Decode(&hotel); err != nil || resp.StatusCode != http.StatusOK || hotel.Available != 9 {
		t.Fatalf("the server answers %d, %+v (%v) for the event seeded through the printed URL; want its 9 rooms", resp.StatusCode, hotel, err)
	}

	if err := serve.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := serve.cmd.Wait(); err != nil {
		t.Fatalf("evento serve after SIGINT: %v; stderr:\n%s", err, said())
	}
}

// servedProcess is an `evento serve` child of startServe: its stdout to
// read, its stderr kept whole for failure messages.
type servedProcess struct {
	cmd        *exec.Cmd
	stdout     io.Reader
	stderrDone chan struct{} // closed once stderr is read to its end
	mu         sync.Mutex
	stderr     strings.Builder
}

// startServe starts `evento serve args...` with env added to the test's
// own, killed when the test ends. The first line on its stderr that match
// accepts is sent on the channel returned.
func startServe(t *testing.T, env []string, match func(line string) bool, args ...string) (*servedProcess, <-chan string) {
	t.Helper()
	s := &servedProcess{cmd: exec.Command(evento, append([]string{"serve"}, args...)...), stderrDone: make(chan struct{})}
	s.cmd.Env = append(os.Environ(), env...)
	var err error
	if s.stdout, err = s.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill() })
	matched := make(chan string, 1)
	go func() {
		defer close(s.stderrDone)
		lines := bufio.NewScanner(stderr)
		for first := true; lines.Scan(); {
			s.mu.Lock()
			s.stderr.WriteString(lines.Text() + "\n")
			s.mu.Unlock()
			if first && match(lines.Text()) {
				first = false
				matched <- lines.Text()
			}
		}
	}()
	return s, matched
}

// said is everything the server wrote on stderr so far.
func (s *servedProcess) said() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// A taken --addr (or --admin-addr) fails at once in one line, before a
// throwaway PostgreSQL is started and stopped for nothing.
func TestServeOnATakenPortFailsBeforeStartingPostgres(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for _, flag := range []string{"--addr", "--admin-addr"} {
		r := runEvento(t, []string{"DATABASE_URL="}, "serve", "--embedded", flag, addr)
		if strings.Contains(r.stderr, "started throwaway") {
			t.Errorf("evento serve %s %s (taken) started a PostgreSQL: %q", flag, addr, r.stderr)
		}
		checkUsageError(t, r, "evento serve "+flag+" "+addr+" (taken)", flag+" "+addr+" is taken")
	}
}
