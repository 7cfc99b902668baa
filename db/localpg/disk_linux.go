//go:build linux

package localpg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// CanMountSmallDisk reports whether Options.SmallDisk can be had here.
func CanMountSmallDisk() bool { return os.Geteuid() == 0 }

// mountSmallDisk makes dir a tmpfs of size bytes, private to the account
// postgres runs as: a disk the lab can fill without touching the
// machine's. Mounting needs root.
func mountSmallDisk(dir string, size int64, a *account) error {
	if os.Geteuid() != 0 || a == nil {
		return ErrSmallDiskNeedsRoot
	}
	options := fmt.Sprintf("size=%d,mode=0700,uid=%d,gid=%d", size, a.uid, a.gid)
	if err := syscall.Mount("evento-disk", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, options); err != nil {
		return fmt.Errorf("mount a %d-byte tmpfs on %s: %w", size, dir, err)
	}
	return nil
}

// unmountSmallDisk undoes mountSmallDisk; a dir that is not a mount point
// is left as it is. Detached, so that a file still open (a postgres that
// is still exiting) cannot keep the mount alive.
func unmountSmallDisk(dir string) error {
	err := syscall.Unmount(dir, syscall.MNT_DETACH)
	if err == nil || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EPERM) {
		return nil
	}
	return fmt.Errorf("unmount %s: %w", dir, err)
}

// fillerName is the file FillDisk grows in the data directory.
const fillerName = "evento-disk-filler"

// fillDisk grows a file in dir until the file system has no byte left,
// as a disk filled by something else would be: every later extension of
// a file there fails with ENOSPC.
func fillDisk(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, fillerName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("fill the disk: %w", err)
	}
	defer f.Close()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return fmt.Errorf("fill the disk: %w", err)
	}
	// Most of it at once, then the last blocks a page at a time.
	if free := int64(fs.Bavail) * fs.Bsize; free > 0 {
		if err := syscall.Fallocate(int(f.Fd()), 0, 0, free); err != nil && !errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("fill the disk: %w", err)
		}
	}
	page := make([]byte, 4096)
	for {
		if _, err := f.Write(page); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return fmt.Errorf("fill the disk: %w", err)
		}
	}
}

// freeDisk removes what fillDisk wrote.
func freeDisk(dir string) error {
	if err := os.Remove(filepath.Join(dir, fillerName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("free the disk: %w", err)
	}
	return nil
}
