package localpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// hbaConf lets anyone in over loopback or the socket without a password.
// That is safe only because the server listens on 127.0.0.1 and its socket
// directory is private; it is what makes the URL work without credentials.
const hbaConf = `# Written by evento/db/localpg: trust, but loopback and local socket only.
local all all trust
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
`

// hbaConfPassword is hbaConf for a cluster with Options.Password: TCP asks
// for the password as a stock Debian or Ubuntu install does; the socket,
// in our private directory, stays trusted, so that waitReady needs none.
const hbaConfPassword = `# Written by evento/db/localpg: a password over loopback, trust on the private socket.
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
`

// ensureCluster creates a cluster in dataDir unless one is already there.
func (s *Server) ensureCluster(ctx context.Context) error {
	_, err := os.Stat(filepath.Join(s.dataDir, "PG_VERSION"))
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	args := []string{
		"-D", s.dataDir,
		"-U", "postgres",
		"--auth=trust", // the --auth-* below and pg_hba.conf narrow it
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
	hbaText := hbaConf
	if s.opts.Password != "" {
		// A file, not an argument: a command line is visible to every user
		// of the machine (ps).
		pwfile := filepath.Join(s.runDir, "pwfile")
		if err := os.WriteFile(pwfile, []byte(s.opts.Password+"\n"), 0o600); err != nil {
			return fmt.Errorf("write password file: %w", err)
		}
		defer os.Remove(pwfile)
		if err := s.account.chown(pwfile); err != nil {
			return err
		}
		args = append(args, "--pwfile="+pwfile, "--auth-host=scram-sha-256", "--auth-local=trust")
		hbaText = hbaConfPassword
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
	hba := filepath.Join(s.dataDir, "pg_hba.conf")
	if err := os.WriteFile(hba, []byte(hbaText), 0o600); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	return s.account.chown(hba)
}
