package localpg

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRemoveLeftoversKeepsWhatMayBeInUse sweeps a directory of made-up
// leftovers: only those whose owner and postgres are both gone go.
func TestRemoveLeftoversKeepsWhatMayBeInUse(t *testing.T) {
	t.Parallel()
	// A process that ran and exited, reaped: its PID names nobody (short
	// of reuse, which the start time guards against anyway).
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	gone := exited.Process.Pid
	self := os.Getpid()
	selfStart := processStartTime(self)

	root := t.TempDir()
	leftover := func(name, owner string, files map[string]string) string {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			files[ownerFile] = owner
		}
		for f, content := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	ownerGone := leftover("evento-pg-gone", fmt.Sprintf("%d 1\n", gone), map[string]string{})
	bouncerGone := leftover("evento-pgbouncer-gone", fmt.Sprintf("%d 1\n", gone), map[string]string{})
	// Our PID, but another start time: the PID was reused, the owner is gone.
	reused := leftover("evento-pg-reused", fmt.Sprintf("%d 1%s\n", self, selfStart), map[string]string{})
	alive := leftover("evento-pg-alive", fmt.Sprintf("%d %s\n", self, selfStart), map[string]string{})
	// Owner gone, but the postmaster (standing in: this process) runs.
	postmaster := leftover("evento-pg-postmaster", fmt.Sprintf("%d 1\n", gone), map[string]string{
		"data/postmaster.pid": fmt.Sprintf("%d\n/some/data\n", self),
	})
	socketLock := leftover("evento-pg-socket", fmt.Sprintf("%d 1\n", gone), map[string]string{
		".s.PGSQL.5999.lock": fmt.Sprintf("%d\n", self),
	})
	deadPostmaster := leftover("evento-pg-deadpostmaster", fmt.Sprintf("%d 1\n", gone), map[string]string{
		"data/postmaster.pid": fmt.Sprintf("%d\n/some/data\n", gone),
	})
	noOwner := leftover("evento-pg-noowner", "", map[string]string{})
	garbled := leftover("evento-pg-garbled", "12", map[string]string{})
	notOurs := leftover("something-else", fmt.Sprintf("%d 1\n", gone), map[string]string{})

	var log bytes.Buffer
	removeLeftovers(root, &log)

	for _, dir := range []string{ownerGone, bouncerGone, reused, deadPostmaster} {
		assertGone(t, dir)
		if !strings.Contains(log.String(), "removed "+dir+",") {
			t.Errorf("log does not name %s:\n%s", dir, &log)
		}
	}
	for _, dir := range []string{alive, postmaster, socketLock, noOwner, garbled, notOurs} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(dir), err)
		}
	}
}
