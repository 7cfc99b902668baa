//go:build !linux

package cluster

// PeakRSSBytes is unknown off Linux.
func PeakRSSBytes() int64 { return 0 }
