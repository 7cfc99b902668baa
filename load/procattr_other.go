//go:build !linux

package load

import "syscall"

func childProcAttr() *syscall.SysProcAttr { return nil }
