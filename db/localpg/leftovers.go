package localpg

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ownerFile, in every temporary directory this package makes, names the
// process that made it: its PID and its start time (field 22 of
// /proc/PID/stat, in clock ticks since boot), so that a later PID reuse
// does not pass for the owner still living. A directory whose owner is gone
// was left by a process killed with SIGKILL (or a crash): its PostgreSQL died
// of the parent-death signal, but nobody ran Stop to delete the files.
const ownerFile = "evento-owner"

// tempPrefixes are the names MkdirTemp gives our temporary directories.
var tempPrefixes = []string{"evento-pg-", "evento-pgbouncer-", "evento-ha-"}

// writeOwner records this process as dir's owner. It writes a temporary
// file and renames it, so that a sweeping process never reads half of it.
func writeOwner(dir string) error {
	pid := os.Getpid()
	content := fmt.Sprintf("%d %s\n", pid, processStartTime(pid))
	tmp := filepath.Join(dir, ownerFile+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return fmt.Errorf("record owner of %s: %w", dir, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ownerFile)); err != nil {
		return fmt.Errorf("record owner of %s: %w", dir, err)
	}
	return nil
}

// processStartTime returns pid's start time from /proc, or "-" where there
// is no /proc (macOS): liveness then rests on the PID alone.
func processStartTime(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "-"
	}
	// The command name, in parentheses, may hold spaces: count the fields
	// after it. State is field 3, start time field 22.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "-"
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return "-"
	}
	return fields[19]
}

// removeLeftovers deletes the temporary directories under root that killed
// processes left behind, and says so on log, one line each. It keeps every
// directory it cannot prove abandoned: one without an owner file (its
// owner may be between MkdirTemp and writeOwner, or it predates owner
// files), one whose owner runs, and one whose PostgreSQL still runs. A
// failure to remove one is reported and skipped: tidying up must not stop
// the command that happens to do it.
func removeLeftovers(root string, log io.Writer) {
	for _, prefix := range tempPrefixes {
		dirs, err := filepath.Glob(filepath.Join(root, prefix+"*"))
		if err != nil {
			continue
		}
		for _, dir := range dirs {
			owner, abandoned := isAbandoned(dir)
			if !abandoned {
				continue
			}
			// A small disk (Options.SmallDisk) is still mounted on its
			// data: unmounted first, or it would outlive its directory.
			if err := unmountSmallDisk(filepath.Join(dir, "data")); err != nil {
				fmt.Fprintf(log, "evento: could not remove %s, left by a killed evento (pid %d): %v\n", dir, owner, err)
				continue
			}
			if err := os.RemoveAll(dir); err != nil {
				fmt.Fprintf(log, "evento: could not remove %s, left by a killed evento (pid %d): %v\n", dir, owner, err)
				continue
			}
			fmt.Fprintf(log, "evento: removed %s, left by a killed evento (pid %d)\n", dir, owner)
		}
	}
}

// isAbandoned reports whether dir's owner is gone and no PostgreSQL of its
// own runs, with the owner's PID.
func isAbandoned(dir string) (owner int, abandoned bool) {
	path := filepath.Join(dir, ownerFile)
	// Another user's directory is theirs to tidy (we could not delete it);
	// root, who runs PostgreSQL as postgres, tidies every one.
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		return 0, false
	} else if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() != 0 && int(st.Uid) != os.Geteuid() {
		return 0, false
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	var start string
	if n, _ := fmt.Sscanf(string(content), "%d %s", &owner, &start); n != 2 || owner <= 0 {
		return 0, false
	}
	if runs(owner) && (start == "-" || processStartTime(owner) == start) {
		return owner, false
	}
	// The owner is gone. Its PostgreSQL should have died with it, but a
	// postmaster that is still shutting down (or one on a system without
	// a parent-death signal) must not lose its files under it.
	// postmaster.pid holds the data directory's postmaster; the socket's
	// lock file holds it too, and is in dir even when the data is kept
	// elsewhere (--db-dir).
	locks, _ := filepath.Glob(filepath.Join(dir, ".s.PGSQL.*.lock"))
	locks = append(locks, filepath.Join(dir, "data", "postmaster.pid"))
	for _, lock := range locks {
		if pid, ok := firstLinePID(lock); ok && runs(pid) {
			return owner, false
		}
	}
	return owner, true
}

// firstLinePID reads the PID on the first line of a PostgreSQL lock file.
func firstLinePID(path string) (int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	line, _, _ := bufio.NewReader(f).ReadLine()
	pid, err := strconv.Atoi(strings.TrimSpace(string(line)))
	return pid, err == nil && pid > 0
}

// runs reports whether pid is a process that has not exited. Another
// user's process (EPERM) runs; a zombie does not: an orphaned postgres is
// reparented to PID 1, which in a container may never reap it.
func runs(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		// No /proc (macOS): kill said it exists.
		return !errors.Is(err, os.ErrNotExist) || !hasProc()
	}
	i := bytes.LastIndexByte(stat, ')')
	return !(i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z')
}

func hasProc() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}
