//go:build !linux

package localpg

import "syscall"

// setParentDeathSignal is a no-op: only Linux offers a parent-death signal.
func setParentDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
