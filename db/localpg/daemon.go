package localpg

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// daemon is a long-running helper of the HA stack (etcd, Patroni) that we
// spawned, logging to a file, in a process group of its own.
type daemon struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed once cmd.Wait returned
	err    error         // cmd.Wait's result; read only after exited is closed
}

// startDaemon starts binary as acct (nil: ourselves) in dir, its output
// appended to logPath. The kernel sends it SIGTERM if we die first: etcd
// then exits, Patroni stops its PostgreSQL before it does.
func startDaemon(name, dir, logPath string, acct *account, env []string, binary string, args ...string) (*daemon, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: create log: %w", name, err)
	}
	if err := acct.chown(logPath); err != nil {
		logf.Close()
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	attr := sysProcAttr(acct)
	setParentDeathSignal(attr, syscall.SIGTERM)
	cmd.SysProcAttr = attr
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	return d, nil
}

func (d *daemon) running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// kill ends the daemon and everything in its process group at once.
func (d *daemon) kill() {
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.exited
}

// terminate asks the daemon to stop (SIGTERM), waits up to grace, then
// kills its whole process group.
func (d *daemon) terminate(grace time.Duration) error {
	if !d.running() {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return nil
	case <-time.After(grace):
	}
	d.kill()
	return nil
}
