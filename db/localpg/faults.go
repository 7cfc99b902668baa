package localpg

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// The faults a lab injects into a server it started. They are not safe to
// run concurrently with each other or with Stop: one caller (the lab's
// nemesis) uses them, and stops before the server is stopped.

// Restart shuts the server down and starts it again on the same port and
// data directory. A fast shutdown (SIGINT) aborts the sessions and writes a
// checkpoint; with crash, an immediate one (SIGQUIT) skips the checkpoint,
// as a power cut would, and the new start recovers from the WAL.
func (s *Server) Restart(ctx context.Context, crash bool) error {
	if err := s.Shutdown(crash); err != nil {
		return err
	}
	return s.StartAgain(ctx)
}

// Shutdown is the first half of Restart: the server is down, its port and
// data directory kept, until StartAgain; meanwhile connections are refused,
// as during an outage. Stop still cleans up after a server left down.
func (s *Server) Shutdown(crash bool) error {
	if s.proc == nil {
		return fmt.Errorf("restart postgres: not running")
	}
	sig := syscall.SIGINT
	if crash {
		sig = syscall.SIGQUIT
	}
	_ = s.proc.cmd.Process.Signal(sig)
	select {
	case <-s.proc.exited:
	case <-time.After(30 * time.Second):
		if err := s.proc.terminate(); err != nil {
			return fmt.Errorf("restart postgres: %w", err)
		}
	}
	return nil
}

// StartAgain is the second half of Restart: postgres starts on the port
// and data directory it had.
func (s *Server) StartAgain(ctx context.Context) error {
	if err := s.startPostgres(ctx, s.port); err != nil {
		return fmt.Errorf("restart postgres on port %d: %w", s.port, err)
	}
	return nil
}

// Pause stops the postmaster and every backend (SIGSTOP): connections
// stay open and locks held, but nothing answers, as on a machine that froze.
// Resume undoes it. The postmaster stops first, so that it forks no new
// backend meanwhile. (Backends lead process groups of their own, so the
// postmaster's group does not reach them: each is signalled by pid.)
func (s *Server) Pause() error {
	return s.signalAll(syscall.SIGSTOP, true)
}

// Resume lets a paused server run again (SIGCONT), backends first.
func (s *Server) Resume() error {
	return s.signalAll(syscall.SIGCONT, false)
}

func (s *Server) signalAll(sig syscall.Signal, postmasterFirst bool) error {
	if s.proc == nil {
		return fmt.Errorf("signal postgres: not running")
	}
	postmaster := s.proc.cmd.Process.Pid
	if postmasterFirst {
		if err := syscall.Kill(postmaster, sig); err != nil {
			return fmt.Errorf("signal postgres (%v): %w", sig, err)
		}
	}
	children, err := childProcesses(postmaster)
	if err != nil {
		return fmt.Errorf("signal postgres (%v): %w", sig, err)
	}
	for _, pid := range children {
		_ = syscall.Kill(pid, sig) // one that exited meanwhile needs nothing
	}
	if !postmasterFirst {
		if err := syscall.Kill(postmaster, sig); err != nil {
			return fmt.Errorf("signal postgres (%v): %w", sig, err)
		}
	}
	return nil
}
