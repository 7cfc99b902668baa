package cluster

import "syscall"

// childProcAttr makes a server die with the process that started it, even
// when that process is killed without a chance to stop it, and keeps it out
// of the terminal's process group: Ctrl-C reaches only evento, which stops
// the clients first and then the servers, so no client sees a server vanish.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
}
