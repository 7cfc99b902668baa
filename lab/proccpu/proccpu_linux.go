package proccpu

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tick is USER_HZ, the unit of /proc's CPU times: 100 a second on every
// architecture Go runs Linux on, whatever the kernel's own HZ.
const tick = time.Second / 100

// Stat reads pid's /proc/PID/stat.
func Stat(pid int) (Process, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Process{}, err
	}
	p, err := parseStat(raw)
	if err != nil {
		return Process{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return p, nil
}

// parseStat reads one /proc/PID/stat line.
func parseStat(raw []byte) (Process, error) {
	// The command name is in parentheses and may hold spaces and
	// parentheses of its own: the fields start after the last ')'.
	open, end := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
	if open < 1 || end < open {
		return Process{}, fmt.Errorf("no command name in %q", raw)
	}
	// From the state (field 3): ppid is field 4, utime, stime, cutime
	// and cstime fields 14 to 17.
	fields := strings.Fields(string(raw[end+1:]))
	if len(fields) < 15 {
		return Process{}, fmt.Errorf("%d fields after the command name, want at least 15", len(fields))
	}
	var n [5]int64
	for i, field := range []int{1, 11, 12, 13, 14} {
		v, err := strconv.ParseInt(fields[field], 10, 64)
		if err != nil {
			return Process{}, fmt.Errorf("field %d: %w", field+3, err)
		}
		n[i] = v
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw[:open])))
	if err != nil {
		return Process{}, fmt.Errorf("pid: %w", err)
	}
	return Process{
		PID: pid, PPID: int(n[0]), Comm: string(raw[open+1 : end]),
		Own: time.Duration(n[1]+n[2]) * tick, Children: time.Duration(n[3]+n[4]) * tick,
	}, nil
}

// Self is this process's own CPU so far, to the microsecond: /proc's
// ticks would round a short run's load away.
func Self() (time.Duration, error) {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano()), nil
}

// Tree is the CPU so far of pid and of every child it ever had: its own,
// what its living children have used (theirs, and what they have reaped),
// and what its exited children had used when it reaped them. A daemon
// whose workers come and go, such as PostgreSQL's postmaster and its
// backends, is measured over a window as the difference of two Trees: a
// worker that lived through the window counts its CPU in it, one that
// started or ended inside it too, through the daemon's reaped time.
//
// A child reaped while the children are read would count twice (read
// alive, then in the parent's reaped time) or not at all; the parent's
// reaped time is read before and after, and the reading starts again
// when it moved.
func Tree(pid int) (time.Duration, error) {
	for attempt := 0; ; attempt++ {
		before, err := Stat(pid)
		if err != nil {
			return 0, err
		}
		children, err := childrenCPU(pid)
		if err != nil {
			return 0, err
		}
		after, err := Stat(pid)
		if err != nil {
			return 0, err
		}
		// A child that used no tick leaves the reaped time as it was, and
		// counted nothing either way; after a few tries a parent reaping
		// that fast is read as it is.
		if after.Children == before.Children || attempt == 10 {
			return after.Own + after.Children + children, nil
		}
	}
}

// childrenCPU is what pid's living children have used, theirs and what
// they have reaped.
func childrenCPU(pid int) (time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var sum time.Duration
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		p, err := Stat(child)
		if err != nil {
			continue // gone meanwhile: its parent's reaped time has it
		}
		if p.PPID == pid {
			sum += p.Own + p.Children
		}
	}
	return sum, nil
}

// ReadMachine reads /proc/stat.
func ReadMachine() (Machine, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	return parseMachine(line)
}

// parseMachine reads /proc/stat's "cpu" line: user, nice, system, idle,
// iowait, irq, softirq, steal, then guest times already counted in user.
func parseMachine(line string) (Machine, error) {
	fields := strings.Fields(line)
	if len(fields) < 8 || fields[0] != "cpu" {
		return Machine{}, fmt.Errorf("/proc/stat: want the cpu line first, got %q", line)
	}
	var t [7]int64
	for i := range t {
		v, err := strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil {
			return Machine{}, fmt.Errorf("/proc/stat: %w", err)
		}
		t[i] = v
	}
	user, nice, system, idle, iowait, irq, softirq := t[0], t[1], t[2], t[3], t[4], t[5], t[6]
	busy := user + nice + system + irq + softirq
	return Machine{Busy: time.Duration(busy) * tick, All: time.Duration(busy+idle+iowait) * tick}, nil
}
