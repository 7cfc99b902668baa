//go:build !linux

package localpg

// A small disk is a tmpfs, which only Linux mounts this way.

func CanMountSmallDisk() bool { return false }

func mountSmallDisk(string, int64, *account) error { return ErrSmallDiskNeedsRoot }
func unmountSmallDisk(string) error                { return nil }
func fillDisk(string) error                        { return ErrSmallDiskNeedsRoot }
func freeDisk(string) error                        { return nil }
