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
	serve := exec.Command(evento, "serve", "--embedded", "--addr", "127.0.0.1:0")
	serve.Env = append(os.Environ(), "DATABASE_URL=")
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderrPipe, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Kill() })

	var mu sync.Mutex
	var stderr strings.Builder // all of it, for failure messages
	exports := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderrPipe)
		for lines.Scan() {
			mu.Lock()
			stderr.WriteString(lines.Text() + "\n")
			mu.Unlock()
			if strings.HasPrefix(lines.Text(), "export DATABASE_URL=") {
				exports <- lines.Text()
			}
		}
	}()
	said := func() string { mu.Lock(); defer mu.Unlock(); return stderr.String() }

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

	if err := serve.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("evento serve after SIGINT: %v; stderr:\n%s", err, said())
	}
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
