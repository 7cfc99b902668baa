package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/load"
)

// loadFlags are the client-side flags shared by `evento` (run) and
// `evento load`.
type loadFlags struct {
	clients        int
	strategy       string
	think          string
	seed           uint64
	timeout        time.Duration
	requestTimeout time.Duration
	noIdempotency  bool
	skipChecks     bool
	holds          float64
	abandon        float64
	holdTTL        time.Duration
	conns          int
	maxRooms       int
	json           bool
	progress       bool
	expect         string
}

func (f *loadFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.clients, "clients", 200, "concurrent clients")
	fs.StringVar(&f.strategy, "strategy", "naive", "reserve mode: "+db.StrategyNames())
	fs.StringVar(&f.strategy, "mode", "naive", "alias of --strategy")
	fs.StringVar(&f.think, "think", "0-300ms", "client pause after each reservation, a range (0 for a throughput run)")
	fs.Uint64Var(&f.seed, "seed", 0, "seed for the clients' random choices (0 picks one; the report shows it)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "stop the clients after this long")
	fs.DurationVar(&f.requestTimeout, "client-timeout", 10*time.Second, "per-request timeout (e.g. 20ms provokes timeouts); a booking that times out has an unknown outcome until resent with its key")
	fs.BoolVar(&f.skipChecks, "skip-checks", false, "book without checking availability first (only after a refusal): for throughput runs")
	fs.BoolVar(&f.noIdempotency, "no-idempotency", false, "send no Idempotency-Key: unknown outcomes stay unknown")
	fs.Float64Var(&f.holds, "holds", 0, "share of bookings made as hold, then confirm (0..1)")
	fs.Float64Var(&f.abandon, "abandon", 0, "share of holds the client walks away from, never confirming nor releasing (0..1)")
	fs.DurationVar(&f.holdTTL, "hold-ttl", 5*time.Second, "hold lifetime, whole seconds (the run waits for abandoned holds to expire before judging)")
	fs.IntVar(&f.conns, "conns", 256, "most open connections from the clients to each server")
	fs.IntVar(&f.maxRooms, "max-rooms", 5, "most rooms one request asks for")
	fs.BoolVar(&f.json, "json", false, "print the report as one JSON object on stdout")
	fs.BoolVar(&f.progress, "progress", false, "print plain progress lines on stderr even without a terminal")
	fs.StringVar(&f.expect, "expect", "", `"consistent": exit 1 unless the verdict is consistent`)
}

func (f *loadFlags) validate() (load.Range, error) {
	if _, ok := db.LookupStrategy(f.strategy); !ok {
		return load.Range{}, usagef("unknown strategy %q; strategies: %s", f.strategy, db.StrategyNames())
	}
	switch {
	case f.clients < 1:
		return load.Range{}, usagef("--clients must be at least 1, got %d", f.clients)
	case f.conns < 1:
		return load.Range{}, usagef("--conns must be at least 1, got %d", f.conns)
	case f.maxRooms < 1 || f.maxRooms > maxRoomsPerRequest:
		return load.Range{}, usagef("--max-rooms must be between 1 and %d, got %d", maxRoomsPerRequest, f.maxRooms)
	case f.requestTimeout <= 0:
		return load.Range{}, usagef("--client-timeout must be positive, got %s", f.requestTimeout)
	case f.timeout <= 0:
		return load.Range{}, usagef("--timeout must be positive, got %s", f.timeout)
	case f.holds < 0 || f.holds > 1:
		return load.Range{}, usagef("--holds is a share from 0 to 1, got %g", f.holds)
	case f.abandon < 0 || f.abandon > 1:
		return load.Range{}, usagef("--abandon is a share from 0 to 1, got %g", f.abandon)
	case f.holdTTL < time.Second || f.holdTTL > time.Hour || f.holdTTL%time.Second != 0:
		return load.Range{}, usagef("--hold-ttl must be whole seconds from 1s to 1h, got %s", f.holdTTL)
	}
	if f.expect != "" && f.expect != load.Consistent {
		return load.Range{}, usagef(`--expect takes "consistent"`)
	}
	think, err := load.ParseRange(f.think)
	if err != nil {
		return load.Range{}, usageError{err}
	}
	if f.seed == 0 {
		f.seed = rand.Uint64N(1<<53) + 1 // fits a JSON number exactly
	}
	return think, nil
}

func (f *loadFlags) config(servers []string, targets []load.Target, think load.Range) load.Config {
	return load.Config{
		Servers: servers, Strategy: f.strategy, Clients: f.clients, Targets: targets,
		Think: think, Seed: f.seed, MaxRooms: f.maxRooms,
		RequestTimeout: f.requestTimeout, ConnsPerServer: f.conns,
		Idempotency: !f.noIdempotency, SkipChecks: f.skipChecks, HoldShare: f.holds, AbandonShare: f.abandon, HoldTTL: f.holdTTL,
	}
}

// runClients runs the load with live progress where someone can see it:
// bars on a terminal, plain lines with --progress, nothing otherwise.
func (f *loadFlags) runClients(ctx context.Context, runner *load.Runner) load.Result {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	stop := func() {}
	switch {
	case f.progress:
		stop = load.ShowLines(runner, os.Stderr)
	case !f.json && term.IsTerminal(int(os.Stderr.Fd())):
		stop = load.ShowBars(runner, os.Stderr)
	}
	result := runner.Run(ctx)
	stop()
	return result
}

// finish prints the report and turns the outcome into an exit status:
// 130 when interrupted (the report is partial), 1 when --expect is not met.
func (f *loadFlags) finish(ctx context.Context, report load.Report, out io.Writer) error {
	var err error
	if f.json {
		err = report.WriteJSON(out)
	} else {
		err = report.WriteText(out)
	}
	if err != nil {
		return fmt.Errorf("print report: %w", err)
	}
	if ctx.Err() != nil {
		return exitCode(130)
	}
	if f.expect != "" && report.Verdict != f.expect {
		fmt.Fprintf(os.Stderr, "evento: verdict %s, expected %s\n", report.Verdict, f.expect)
		return exitCode(1)
	}
	return nil
}

// observedFromRecords turns database records into what the verdict judges.
func observedFromRecords(records []db.HotelRecord) []load.Observed {
	observed := make([]load.Observed, len(records))
	for i, r := range records {
		observed[i] = load.Observed{
			EventID: r.EventID, HotelID: r.HotelID,
			Assigned: r.Assigned, Reserved: r.Reserved, Locked: r.Locked,
			Booked: r.Booked, Rows: r.Reservations,
			LiveHeldRooms: r.LiveHeldRooms, Holds: r.Holds,
		}
	}
	return observed
}

// errorNote explains failed requests in the terms of the run.
func errorNote(report load.Report, noIdempotency bool) []string {
	n := report.Requests.Error
	switch {
	case n == 0:
		return nil
	case report.Unknown.Requests == 0 && !noIdempotency:
		return []string{fmt.Sprintf("%d requests failed or timed out; every booking among them was resent with its idempotency key until its outcome was known", n)}
	case noIdempotency:
		return []string{fmt.Sprintf("%d requests failed or timed out; without idempotency keys a booking whose answer was lost is never resent, so its rooms stay unknown", n)}
	default:
		return []string{fmt.Sprintf("%d requests failed or timed out; the servers' warnings say why (a common cause: more server connections than PostgreSQL's max_connections)", n)}
	}
}
