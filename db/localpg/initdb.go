package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// hbaConf asks every login, over loopback and over the socket alike, for
// the superuser's password, which only the cluster's owner knows
// (Options.Password, or a random one): a throwaway server is reachable by
// every user of the machine over 127.0.0.1, and trust there would make
// each of them its superuser.
const hbaConf = `# Written by evento/db/localpg: the password on every line, loopback and local socket only.
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
`

// ensureCluster creates a cluster in dataDir unless one is already there,
// and in either case makes s.opts.Password the superuser's and the only
// way in.
func (s *Server) ensureCluster(ctx context.Context) error {
	_, err := os.Stat(filepath.Join(s.dataDir, "PG_VERSION"))
	switch {
	case err == nil:
		// A kept Dir: its password is set anew, so that no file of ours
		// need keep one between runs, and a cluster made before passwords
		// (trust) gets one too.
		if err := s.setPassword(ctx); err != nil {
			return err
		}
	case errors.Is(err, os.ErrNotExist):
		if err := s.initdb(ctx); err != nil {
			return err
		}
	default:
		return err
	}
	hba := filepath.Join(s.dataDir, "pg_hba.conf")
	if err := os.WriteFile(hba, []byte(hbaConf), 0o600); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	return s.account.chown(hba)
}

func (s *Server) initdb(ctx context.Context) error {
	// A file, not an argument: a command line is visible to every user of
	// the machine (ps).
	pwfile := filepath.Join(s.runDir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.opts.Password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write password file: %w", err)
	}
	defer os.Remove(pwfile)
	if err := s.account.chown(pwfile); err != nil {
		return err
	}
	args := []string{
		"-D", s.dataDir,
		"-U", "postgres",
		"--pwfile=" + pwfile,
		"--auth=scram-sha-256", // pg_hba.conf, rewritten after, says the same
		"--encoding=UTF8",
		// The C locale exists everywhere; the caller's LANG may name a
		// locale the machine has not generated, which makes initdb fail.
		"--locale=C",
		"--no-instructions",
	}
	if !s.opts.Durable {
		args = append(args, "--no-sync")
	}
	if s.opts.SmallDisk > 0 {
		// The WAL stays off the disk that fills (see Options.SmallDisk).
		args = append(args, "--waldir="+filepath.Join(s.runDir, "wal"))
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "initdb"), args...)
	cmd.Dir = s.runDir // our working directory may be unreadable for the account
	// On cancellation let initdb clean up after itself: killed outright, it
	// would leave a half-made cluster that a kept Dir would later reuse.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.SysProcAttr = sysProcAttr(s.account)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", s.dataDir, err, tail(out, 15))
	}
	return nil
}

// setPassword gives the superuser of the existing cluster in dataDir
// s.opts.Password, through postgres in single-user mode: no login, so it
// works whatever the cluster's pg_hba.conf, and the password travels on
// its standard input, never its command line. It fails, as starting would,
// on a data directory a running server uses.
func (s *Server) setPassword(ctx context.Context) error {
	// exit_on_error: single-user mode would otherwise exit 0 after a
	// failed statement.
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "postgres"), "--single", "-D", s.dataDir, "-c", "exit_on_error=on", "postgres")
	cmd.Dir = s.runDir
	cmd.Stdin = strings.NewReader("ALTER ROLE postgres PASSWORD '" + strings.ReplaceAll(s.opts.Password, "'", "''") + "'\n")
	cmd.SysProcAttr = sysProcAttr(s.account)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		if inUse := s.inUseError(out.Bytes()); inUse != nil {
			return inUse
		}
		return fmt.Errorf("set the password of the cluster in %s: %w\n%s", s.dataDir, err, tail(out.Bytes(), 15))
	}
	return nil
}
