package localpg

import "syscall"

// setParentDeathSignal makes the kernel signal the child if we die without
// stopping it (SIGKILL, crash), so no orphaned postgres keeps running. Go
// sets it after switching credentials, which would otherwise clear it.
//
// The kernel ties the signal to the thread that forked, not the process.
// The Go runtime only retires threads whose goroutine exited while locked
// with runtime.LockOSThread, so calling Start from such a goroutine is the
// one way to lose it early.
func setParentDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) {
	attr.Pdeathsig = sig
}
