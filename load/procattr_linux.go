package load

import "syscall"

// childProcAttr makes a server die with the process that started it, even
// when that process is killed without a chance to stop it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
