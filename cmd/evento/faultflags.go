package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/lab/nemesis"
)

// faultFlags are the nemesis's flags and --history, shared by run, compare
// and load.
type faultFlags struct {
	faults  string
	every   time.Duration
	history string
}

func (f *faultFlags) register(fs *flag.FlagSet, kinds []string) {
	fs.StringVar(&f.faults, "faults", "", "faults to inject while the clients run, comma-separated: all, "+strings.Join(kinds, ", "))
	fs.DurationVar(&f.every, "fault-every", 3*time.Second, "quiet time before each fault")
	fs.StringVar(&f.history, "history", "", "write every request attempt and every fault to this file, as JSON lines")
}

// parse validates --faults and --fault-every. ha says whether the run
// has a replicated pair (--ha): the failover faults need one, and the
// faults that restart, crash, pause or fill one PostgreSQL have none.
func (f *faultFlags) parse(ha bool) ([]string, error) {
	faults, err := nemesis.Parse(f.faults)
	if err != nil {
		return nil, usagef("--faults: %v", err)
	}
	unfit, why := nemesis.HAKinds, "needs --ha (a replicated PostgreSQL pair)"
	if ha {
		// The fault proxy fronts one server; the servers' multi-host URL
		// has two.
		unfit = append(slices.Clone(nemesis.DatabaseKinds), nemesis.LoseReplies)
		why = "breaks the one PostgreSQL of a run without --ha; with --ha use failover or switchover"
	}
	for _, kind := range unfit {
		if !slices.Contains(faults, kind) {
			continue
		}
		if f.faults != "all" {
			return nil, usagef("--faults %s: %s", kind, why)
		}
		faults = slices.DeleteFunc(faults, func(k string) bool { return k == kind })
	}
	if f.faults == "all" && !ha {
		fmt.Fprintf(os.Stderr, "evento: --faults all leaves out %s: they need --ha\n", strings.Join(nemesis.HAKinds, ", "))
	}
	if slices.Contains(faults, nemesis.DiskFull) && !localpg.CanMountSmallDisk() {
		if f.faults != "all" {
			return nil, usagef("--faults %s: %v", nemesis.DiskFull, localpg.ErrSmallDiskNeedsRoot)
		}
		faults = slices.DeleteFunc(faults, func(kind string) bool { return kind == nemesis.DiskFull })
		fmt.Fprintf(os.Stderr, "evento: --faults all leaves out %s: %v\n", nemesis.DiskFull, localpg.ErrSmallDiskNeedsRoot)
	}
	if f.every <= 0 {
		return nil, usagef("--fault-every must be positive, got %s", f.every)
	}
	return faults, nil
}

// openHistory creates --history's file, when given; nil without it. The
// returned function closes it.
func (f *faultFlags) openHistory() (io.Writer, func() error, error) {
	if f.history == "" {
		return nil, func() error { return nil }, nil
	}
	file, err := os.Create(f.history)
	if err != nil {
		return nil, nil, usagef("--history: %v", err)
	}
	return file, file.Close, nil
}
