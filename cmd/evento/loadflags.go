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
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/report"
)

// loadFlags are the client-side flags shared by `evento` (run) and
// `evento load`.
type loadFlags struct {
	reportFlags
	clients        int
	strategy       string
	think          string
	seed           uint64
	timeout        time.Duration
	requestTimeout time.Duration
	retryBudget    time.Duration
	noIdempotency  bool
	skipChecks     bool
	rate           float64
	holds          float64
	abandon        float64
	holdTTL        time.Duration
	conns          int
	route          string
	maxRooms       int
	progress       bool
}

// reportFlags are how a report is printed and judged, for the lab's
// commands and evento check.
type reportFlags struct {
	json   bool
	expect string
}

func (f *reportFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.json, "json", false, "print the report as one JSON object on stdout")
	fs.StringVar(&f.expect, "expect", "", `"consistent": exit 1 unless the verdict is consistent`)
}

func (f *loadFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.clients, "clients", 200, "concurrent clients")
	fs.StringVar(&f.strategy, "strategy", "naive", "reserve mode: "+db.StrategyNames())
	fs.StringVar(&f.strategy, "mode", "naive", "alias of --strategy")
	fs.StringVar(&f.think, "think", "0-300ms", "client pause after each reservation, a range (0 for a throughput run)")
	fs.Uint64Var(&f.seed, "seed", 0, "seed for the clients' random choices (0 picks one; the report shows it)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "stop the clients after this long")
	fs.DurationVar(&f.requestTimeout, "client-timeout", 10*time.Second, "per-request timeout (e.g. 20ms provokes timeouts); a booking that times out has an unknown outcome until resent with its key")
	fs.DurationVar(&f.retryBudget, "retry-budget", client.DefaultRetryBudget, "how long a client rides out errors (a dead server, PostgreSQL restarting) before it gives up, and resends a request whose outcome is unknown")
	fs.BoolVar(&f.skipChecks, "skip-checks", false, "book without checking availability first (only after a refusal): for throughput runs")
	fs.Float64Var(&f.rate, "rate", 0, "open model: this many bookings a second arrive on a seeded Poisson schedule, answered or not (--clients bounds those in flight; latency counts from the intended start); 0: closed model")
	fs.BoolVar(&f.noIdempotency, "no-idempotency", false, "send no Idempotency-Key: unknown outcomes stay unknown")
	fs.Float64Var(&f.holds, "holds", 0, "share of bookings made as hold, then confirm (0..1)")
	fs.Float64Var(&f.abandon, "abandon", 0, "share of holds the client walks away from, never confirming nor releasing (0..1)")
	fs.DurationVar(&f.holdTTL, "hold-ttl", 5*time.Second, "hold lifetime, whole seconds (the run waits for abandoned holds to expire before judging)")
	fs.IntVar(&f.conns, "conns", 256, "most open connections from the clients to each server")
	fs.StringVar(&f.route, "route", string(client.RoundRobin), "how the clients spread requests over the servers, as a load balancer would: "+
		"round-robin (every hotel through every server: the races between servers show) or hotel (each hotel's requests to one server, by a hash of the hotel: one batch per hotel for batched)")
	fs.IntVar(&f.maxRooms, "max-rooms", 5, "most rooms one request asks for")
	fs.BoolVar(&f.progress, "progress", false, "print plain progress lines on stderr even without a terminal")
	f.reportFlags.register(fs)
}

func (f *loadFlags) validate() (client.Range, error) {
	if _, ok := db.LookupStrategy(f.strategy); !ok {
		return client.Range{}, usagef("unknown strategy %q; strategies: %s", f.strategy, db.StrategyNames())
	}
	switch {
	case f.clients < 1:
		return client.Range{}, usagef("--clients must be at least 1, got %d", f.clients)
	case f.conns < 1:
		return client.Range{}, usagef("--conns must be at least 1, got %d", f.conns)
	case f.maxRooms < 1 || f.maxRooms > maxRoomsPerRequest:
		return client.Range{}, usagef("--max-rooms must be between 1 and %d, got %d", maxRoomsPerRequest, f.maxRooms)
	case f.requestTimeout <= 0:
		return client.Range{}, usagef("--client-timeout must be positive, got %s", f.requestTimeout)
	case f.timeout <= 0:
		return client.Range{}, usagef("--timeout must be positive, got %s", f.timeout)
	case f.retryBudget <= 0:
		return client.Range{}, usagef("--retry-budget must be positive, got %s", f.retryBudget)
	case f.rate < 0 || f.rate > 1e6:
		return client.Range{}, usagef("--rate must be from 0 (closed model) to 1000000 bookings a second, got %g", f.rate)
	case f.holds < 0 || f.holds > 1:
		return client.Range{}, usagef("--holds is a share from 0 to 1, got %g", f.holds)
	case f.abandon < 0 || f.abandon > 1:
		return client.Range{}, usagef("--abandon is a share from 0 to 1, got %g", f.abandon)
	case f.holdTTL < time.Second || f.holdTTL > time.Hour || f.holdTTL%time.Second != 0:
		return client.Range{}, usagef("--hold-ttl must be whole seconds from 1s to 1h, got %s", f.holdTTL)
	}
	if _, err := client.ParseRoute(f.route); err != nil {
		return client.Range{}, usagef("--route %q: routes: %s", f.route, client.RouteNames())
	}
	if f.expect != "" && f.expect != checker.Consistent {
		return client.Range{}, usagef(`--expect takes "consistent"`)
	}
	if f.abandon > 0 && f.holds == 0 {
		return client.Range{}, usagef("--abandon %g walks away from holds, but --holds is 0: no booking goes through a hold; set --holds too", f.abandon)
	}
	think, err := client.ParseRange(f.think)
	if err != nil {
		return client.Range{}, usagef("--think %q: %v (takes a duration or a range: 0, 200ms, 0-300ms)", f.think, err)
	}
	if f.seed == 0 {
		f.seed = rand.Uint64N(1<<53) + 1 // fits a JSON number exactly
	}
	return think, nil
}

// clientConfig is how the clients behave; the lab adds the servers, the
// targets and, for run and compare, the strategy.
func (f *loadFlags) clientConfig(think client.Range) client.Config {
	return client.Config{
		Strategy: f.strategy, Clients: f.clients, Think: think, Seed: f.seed, MaxRooms: f.maxRooms,
		RequestTimeout: f.requestTimeout, RetryBudget: f.retryBudget, ConnsPerServer: f.conns,
		Idempotency: !f.noIdempotency, SkipChecks: f.skipChecks, HoldShare: f.holds, AbandonShare: f.abandon, HoldTTL: f.holdTTL,
		Rate: f.rate, Route: client.Route(f.route),
	}
}

// progressDisplay is live progress where someone can see it: bars on a
// terminal, plain lines with --progress, nothing otherwise.
func (f *loadFlags) progressDisplay() func(*client.Runner) func() {
	switch {
	case f.progress:
		return func(r *client.Runner) func() { return report.ShowLines(r, os.Stderr) }
	case !f.json && term.IsTerminal(int(os.Stderr.Fd())):
		return func(r *client.Runner) func() { return report.ShowBars(r, os.Stderr) }
	}
	return nil
}

// finish prints the report and turns the outcome into an exit status:
// 130 when interrupted (the report is partial), 1 when --expect is not met.
func (f *reportFlags) finish(ctx context.Context, r report.Report, out io.Writer) error {
	var err error
	if f.json {
		err = r.WriteJSON(out)
	} else {
		err = r.WriteText(out)
	}
	if err != nil {
		return fmt.Errorf("print report: %w", err)
	}
	if ctx.Err() != nil {
		return exitCode(130)
	}
	if f.expect != "" && r.Verdict != f.expect {
		fmt.Fprintf(os.Stderr, "evento: verdict %s, expected %s\n", r.Verdict, f.expect)
		return exitCode(1)
	}
	return nil
}
