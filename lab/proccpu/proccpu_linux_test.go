package proccpu

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento/db/localpg"
)

// burnEnv makes the test binary a child that burns burnFor of CPU, says
// so on stdout, and exits when its stdin closes.
const burnEnv = "PROCCPU_TEST_BURN"

const burnFor = 200 * time.Millisecond

func TestMain(m *testing.M) {
	if os.Getenv(burnEnv) != "" {
		for used, _ := Self(); used < burnFor; used, _ = Self() {
		}
		os.Stdout.WriteString("burnt\n")
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	// A command name may hold spaces and parentheses.
	raw := "4242 (evento (serve) x) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 30 7 3 20 0 9 0 1 2 3\n"
	p, err := parseStat([]byte(raw))
	want := Process{PID: 4242, PPID: 17, Comm: "evento (serve) x", Own: 2800 * time.Millisecond, Children: 100 * time.Millisecond}
	if err != nil || p != want {
		t.Fatalf("parseStat = %+v, %v; want %+v", p, err, want)
	}
	if _, err := parseStat([]byte("4242 (cut short) S 17 4242")); err == nil {
		t.Fatal("a line cut short was read")
	}
}

func TestParseMachine(t *testing.T) {
	t.Parallel()
	m, err := parseMachine("cpu  100 5 50 1000 20 3 2 7 40 0")
	// Busy: user, nice, system, irq, softirq; guest (40) is in user already.
	want := Machine{Busy: 1600 * time.Millisecond, All: 11800 * time.Millisecond}
	if err != nil || m != want {
		t.Fatalf("parseMachine = %+v, %v; want %+v", m, err, want)
	}
	if _, err := parseMachine("intr 1 2 3"); err == nil {
		t.Fatal("a line other than cpu was read")
	}
}

// A child's CPU counts in its parent's Tree while it lives, and still
// after it exited and was reaped.
func TestTreeCountsAChildAliveAndReaped(t *testing.T) {
	self := os.Getpid()
	before := tree(t, self)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), burnEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "burnt\n" {
		t.Fatalf("the child said %q, %v", line, err)
	}
	child, err := Stat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if child.PPID != self || child.Own < burnFor-3*tick {
		t.Fatalf("the child: %+v; want parent %d and at least %s of CPU", child, self, burnFor)
	}
	if alive := tree(t, self) - before; alive < child.Own {
		t.Errorf("with the child alive the tree used %s, less than the child's own %s", alive, child.Own)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if reaped := tree(t, self) - before; reaped < child.Own {
		t.Errorf("with the child reaped the tree used %s, less than the child's %s", reaped, child.Own)
	}
}

// A PostgreSQL backend that starts, works and exits between two readings
// of the postmaster's Tree is counted: a connection opened and closed
// inside a measurement window.
func TestTreeCountsABackendThatExitedInTheWindow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := localpg.Start(ctx, localpg.Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	postmaster := srv.PID()
	before := tree(t, postmaster)

	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	var used time.Duration
	for used < burnFor {
		if _, err := conn.Exec(ctx, "SELECT count(*) FROM generate_series(1, 2000000)"); err != nil {
			t.Fatal(err)
		}
		p, err := Stat(backend)
		if err != nil {
			t.Fatal(err)
		}
		if p.PPID != postmaster {
			t.Fatalf("backend %d's parent is %d, not the postmaster %d", backend, p.PPID, postmaster)
		}
		used = p.Own
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Its /proc entry goes when the postmaster has reaped it.
	for _, err := Stat(backend); !errors.Is(err, fs.ErrNotExist); _, err = Stat(backend) {
		if ctx.Err() != nil {
			t.Fatalf("backend %d still there: %v", backend, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := tree(t, postmaster) - before; got < used {
		t.Errorf("PostgreSQL used %s over the window, less than the exited backend's %s", got, used)
	}
}

func tree(t *testing.T, pid int) time.Duration {
	t.Helper()
	d, err := Tree(pid)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
