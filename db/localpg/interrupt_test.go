package localpg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestHelperProcess is not a test: it is the child process of
// TestInterrupted, behaving like an Evento command with a throwaway cluster.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("LOCALPG_HELPER") != "1" {
		t.Skip("child process of TestInterrupted")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	s, err := Start(startCtx, Options{Log: io.Discard})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: start:", err)
		os.Exit(2)
	}
	fmt.Printf("%s %d\n", s.DataDir(), s.PID())
	<-ctx.Done()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "helper: stop:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// startHelper runs TestHelperProcess, with env added to its environment,
// and returns once its cluster is up.
func startHelper(t *testing.T, env ...string) (cmd *exec.Cmd, dataDir string, pid int, stderr *bytes.Buffer) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), "LOCALPG_HELPER=1"), env...)
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if _, err := fmt.Sscanf(l, "%s %d", &dataDir, &pid); err != nil {
			_ = cmd.Wait()
			t.Fatalf("helper printed %q (%v); stderr:\n%s", l, err, stderr)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper did not start a cluster in time; stderr:\n%s", stderr)
	}
	return cmd, dataDir, pid, stderr
}

func TestInterrupted(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			cmd, dataDir, pid, stderr := startHelper(t)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("helper: %v; stderr:\n%s", err, stderr)
				}
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("helper did not exit after %s", sig)
			}
			assertGone(t, dataDir)
			assertGone(t, filepath.Dir(dataDir))
			if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
				t.Errorf("postmaster %d survived (kill 0: %v)", pid, err)
			}
		})
	}

	// SIGKILL cannot be caught, so the files stay, but the parent-death
	// signal must still take postgres down, and the next Start's sweep
	// (removeLeftovers, its first step) must delete what was left, while a
	// live owner's directory stays. The helpers keep their clusters under
	// a temporary directory of their own: every Start on the machine, in
	// this package's other tests or in another package's test process,
	// sweeps the shared one, and once removed the killed helper's files
	// before this test looked (seen in CI).
	t.Run("SIGKILL", func(t *testing.T) {
		t.Parallel()
		root, err := os.MkdirTemp("", "lpg-") // short: a socket path must fit under it
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(root) })
		if err := os.Chmod(root, 0o755); err != nil { // the cluster's account must reach its files
			t.Fatal(err)
		}
		cmd, dataDir, pid, _ := startHelper(t, "TMPDIR="+root)
		live, liveDataDir, _, _ := startHelper(t, "TMPDIR="+root)
		t.Cleanup(func() {
			_ = live.Process.Signal(syscall.SIGTERM)
			_ = live.Wait()
		})
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		for deadline := time.Now().Add(15 * time.Second); !isDead(pid); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after 15s waiting for orphaned postmaster %d to exit", pid)
			}
		}
		if _, err := os.Stat(dataDir); err != nil {
			t.Fatalf("the killed helper's data directory should still be there before the next start: %v", err)
		}

		removeLeftovers(root, io.Discard)
		assertGone(t, filepath.Dir(dataDir))
		if _, err := os.Stat(filepath.Join(liveDataDir, "PG_VERSION")); err != nil {
			t.Errorf("the next start removed a live owner's cluster: %v", err)
		}
	})
}
