package localpg

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// skipUnlessSmallDisk skips where a small disk cannot be mounted (not root,
// not Linux), and fails instead in CI, which runs as root.
func skipUnlessSmallDisk(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	err := mountSmallDisk(dir, 1<<20, &account{})
	if errors.Is(err, ErrSmallDiskNeedsRoot) {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root on Linux, where a small disk must mount")
		}
		t.Skip("a small disk needs root on Linux")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := unmountSmallDisk(dir); err != nil {
		t.Fatal(err)
	}
}

// A full disk refuses what must grow a table (SQLSTATE 53100, disk full)
// and commits nothing of it; PostgreSQL stays up (its WAL is elsewhere),
// and once the disk is freed the same insert commits and every earlier
// row is there. Stop unmounts the disk.
func TestSmallDiskFillsAndFrees(t *testing.T) {
	t.Parallel()
	skipUnlessSmallDisk(t)
	ctx := testCtx(t)
	s := startServer(t, Options{SmallDisk: 128 << 20, Durable: true})
	conn := connect(t, ctx, s.URL("postgres"))
	if _, err := conn.Exec(ctx, "create table t (v text); insert into t values ('before')"); err != nil {
		t.Fatal(err)
	}
	if err := s.FillDisk(); err != nil {
		t.Fatal(err)
	}
	// A megabyte of rows must extend the table past its first page.
	grow := "insert into t select repeat('x', 1000) from generate_series(1, 1000)"
	_, err := conn.Exec(ctx, grow)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.DiskFull {
		t.Fatalf("insert on a full disk: %v; want SQLSTATE %s (disk full)", err, pgerrcode.DiskFull)
	}
	if got := queryString(t, ctx, conn, "select count(*) from t"); got != "1" {
		t.Fatalf("%s rows after the refused insert, want the 1 from before", got)
	}
	if err := s.FreeDisk(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, grow); err != nil {
		t.Fatalf("insert once the disk is freed: %v", err)
	}
	if got := queryString(t, ctx, conn, "select count(*) from t"); got != "1001" {
		t.Fatalf("%s rows, want 1001", got)
	}
	data := s.DataDir()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if mounts, err := os.ReadFile("/proc/self/mounts"); err == nil && strings.Contains(string(mounts), " "+data+" ") {
		t.Fatalf("%s is still mounted after Stop", data)
	}
}

// A run killed while its cluster's small disk was mounted leaves the mount
// behind; the next run unmounts it before it removes the directory, or
// the tmpfs (and its memory) would outlive it.
func TestRemoveLeftoversUnmountsASmallDisk(t *testing.T) {
	t.Parallel()
	skipUnlessSmallDisk(t)
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "evento-pg-killed")
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(fmt.Sprintf("%d 1\n", exited.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := mountSmallDisk(data, 1<<20, &account{}); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	removeLeftovers(root, &log)
	if mounts, err := os.ReadFile("/proc/self/mounts"); err == nil && strings.Contains(string(mounts), " "+data+" ") {
		_ = unmountSmallDisk(data)
		t.Fatalf("%s is still mounted; log: %s", data, &log)
	}
	assertGone(t, dir)
}
