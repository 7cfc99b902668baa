// Package proccpu reads how much CPU processes, and the whole machine,
// have used so far, from Linux's /proc: the figures evento bench divides
// by the bookings of a run to say where each booking's CPU went. Elsewhere
// every reading fails with ErrUnsupported.
package proccpu

import (
	"errors"
	"time"
)

// ErrUnsupported: this system has no /proc to read.
var ErrUnsupported = errors.New("CPU accounting needs Linux's /proc")

// Process is one process's CPU so far, from /proc/PID/stat.
type Process struct {
	PID, PPID int
	Comm      string // the command name, without its parentheses
	// Own is its user and system time (utime+stime); Children is that of
	// the children it has waited for (cutime+cstime): an exited child's
	// CPU moves there when its parent reaps it.
	Own, Children time.Duration
}

// Machine is every CPU's time so far, from /proc/stat's first line.
type Machine struct {
	// Busy is the time in any state but idle and waiting for I/O: every
	// process's user and system time, interrupts, and a guest's steal.
	Busy time.Duration
	All  time.Duration
}
