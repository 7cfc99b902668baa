package lab

import (
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/evento-lab/evento/lab/cluster"
	"github.com/evento-lab/evento/lab/proccpu"
	"github.com/evento-lab/evento/lab/report"
)

// cpuMeter reads the CPU used so far by each part of a bench measurement:
// this process (Evento's clients), the server processes, PostgreSQL (its
// postmaster and every backend, living or exited) and the whole machine.
type cpuMeter struct {
	postmaster int
	servers    func() []int
}

// cpuUse is CPU used by each part, over one window or several, and the
// bookings made meanwhile.
type cpuUse struct {
	load, servers, postgres, machine time.Duration
	bookings                         int64
}

func (u cpuUse) sub(o cpuUse) cpuUse {
	return cpuUse{u.load - o.load, u.servers - o.servers, u.postgres - o.postgres, u.machine - o.machine, u.bookings - o.bookings}
}

func (u cpuUse) add(o cpuUse) cpuUse {
	return cpuUse{u.load + o.load, u.servers + o.servers, u.postgres + o.postgres, u.machine + o.machine, u.bookings + o.bookings}
}

// newCPUMeter finds PostgreSQL's postmaster: the one the lab started, or
// else the parent of one of the lab's backends, which must be a postgres
// process on this machine.
func newCPUMeter(ctx context.Context, c *cluster.Cluster) (*cpuMeter, error) {
	m := &cpuMeter{servers: c.ServerPIDs}
	if c.Database.Server != nil {
		m.postmaster = c.Database.Server.PID()
		return m.checked()
	}
	var backend int
	if err := c.Pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return nil, fmt.Errorf("find PostgreSQL's processes: %w", err)
	}
	p, err := proccpu.Stat(backend)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL's backend %d is not a process on this machine: %w", backend, err)
	}
	if p.Comm != "postgres" {
		return nil, fmt.Errorf("process %d on this machine is %s, not PostgreSQL's backend: PostgreSQL runs elsewhere", backend, p.Comm)
	}
	m.postmaster = p.PPID
	return m.checked()
}

// checked is m once it has read everything once: a meter that cannot
// fails before the measurements rather than in each.
func (m *cpuMeter) checked() (*cpuMeter, error) {
	if _, err := m.read(); err != nil {
		return nil, err
	}
	return m, nil
}

// read is the CPU used so far; bookings are left to the caller.
func (m *cpuMeter) read() (cpuUse, error) {
	var u cpuUse
	var err error
	if u.load, err = proccpu.Self(); err != nil {
		return u, err
	}
	for _, pid := range m.servers() {
		p, err := proccpu.Stat(pid)
		if err != nil {
			return u, fmt.Errorf("server process %d: %w", pid, err)
		}
		u.servers += p.Own
	}
	if u.postgres, err = proccpu.Tree(m.postmaster); err != nil {
		return u, fmt.Errorf("PostgreSQL's postmaster %d: %w", m.postmaster, err)
	}
	machine, err := proccpu.ReadMachine()
	u.machine = machine.Busy
	return u, err
}

// cpuTally adds up, per measurement, the CPU of its windows.
type cpuTally struct {
	meter  *cpuMeter // nil: not measured
	used   map[string]cpuUse
	failed map[string]error
}

func newCPUTally(m *cpuMeter) *cpuTally {
	return &cpuTally{meter: m, used: map[string]cpuUse{}, failed: map[string]error{}}
}

// window starts a window of measurement label; end closes it with the
// bookings made. Evento's load is this process; pgbench's, when pgbench
// is not nil, is that process, and no server takes part.
func (t *cpuTally) window(label string) (end func(bookings int64, pgbench *os.ProcessState)) {
	if t.meter == nil {
		return func(int64, *os.ProcessState) {}
	}
	start, err := t.meter.read()
	return func(bookings int64, pgbench *os.ProcessState) {
		stop, stopErr := t.meter.read()
		if err = cmpErr(err, stopErr); err != nil {
			t.failed[label] = err
			return
		}
		used := stop.sub(start)
		used.bookings = bookings
		if pgbench != nil {
			used.load, used.servers = pgbench.UserTime()+pgbench.SystemTime(), 0
		}
		t.used[label] = t.used[label].add(used)
	}
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// perBooking is measurement label's CPU per booking over its windows;
// ok is false when a reading failed or nothing was booked.
func (t *cpuTally) perBooking(label string) (report.BenchCPU, bool) {
	u, measured := t.used[label]
	if t.failed[label] != nil || !measured || u.bookings == 0 {
		return report.BenchCPU{}, false
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(u.bookings) }
	c := report.BenchCPU{
		Bookings: u.bookings, Load: us(u.load), Servers: us(u.servers), PostgreSQL: us(u.postgres),
		Machine: us(u.machine), Cores: runtime.NumCPU(),
	}
	c.Total = c.Load + c.Servers + c.PostgreSQL
	if c.Total > 0 {
		c.Ceiling = float64(c.Cores) * 1e6 / c.Total
	}
	return c, true
}

// failures names the measurements whose CPU could not be read.
func (t *cpuTally) failures() []string {
	var lines []string
	for _, label := range slices.Sorted(maps.Keys(t.failed)) {
		lines = append(lines, fmt.Sprintf("%s: %v", label, t.failed[label]))
	}
	return lines
}
