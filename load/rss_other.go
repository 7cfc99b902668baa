//go:build !linux

package load

// PeakRSSBytes is unknown off Linux.
func PeakRSSBytes() int64 { return 0 }
