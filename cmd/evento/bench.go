package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/lab"
	"github.com/evento-lab/evento/lab/client"
)

type benchConfig struct {
	db         databaseFlags
	clients    string
	strategies string
	rounds     int
	duration   time.Duration
	servers    int
	pool       int
	out        string
	skipChecks bool
	keys       bool
	buckets    string
}

func newBenchCommand() *ffcli.Command {
	var cfg benchConfig
	fs := flag.NewFlagSet("evento bench", flag.ContinueOnError)
	cfg.db.register(fs)
	fs.StringVar(&cfg.clients, "clients", "1,8,32,64", "client counts to measure")
	fs.StringVar(&cfg.strategies, "strategies", "atomic,pessimistic,batched,batched@hotel", "Evento strategies to measure against pgbench; NAME"+lab.RouteSeparator+string(client.ByHotel)+" routes its clients by hotel (run's --route), NAME"+lab.KeyedSuffix+" sends an idempotency key with every booking")
	fs.BoolVar(&cfg.keys, "keys", false, "also measure each strategy with an idempotency key on every booking (NAME"+lab.KeyedSuffix+"), and print the price of exactly-once")
	fs.StringVar(&cfg.buckets, "buckets", strconv.Itoa(lab.DefaultBuckets), "bucket rows of the hot hotel for a strategy that books buckets (sharded), each count measured on its own: NAME"+lab.BucketsSeparator+"K")
	fs.IntVar(&cfg.rounds, "rounds", 3, "interleaved rounds per measurement; the median is reported")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of one measurement (whole seconds)")
	fs.IntVar(&cfg.servers, "servers", 2, "Evento server processes")
	fs.IntVar(&cfg.pool, "pool", 32, "database connections of each server")
	fs.StringVar(&cfg.out, "out", "", "write bench.json into this directory")
	fs.BoolVar(&cfg.skipChecks, "skip-checks", true, "Evento's clients book without an availability check before each booking, as pgbench does")
	return &ffcli.Command{
		Name:       "bench",
		ShortUsage: "evento bench [--clients 1,8,32,64] [--strategies atomic,pessimistic,batched,batched@hotel] [--rounds 3] [--duration 5s]",
		ShortHelp:  "Measure the hot row: pgbench running atomic.sql's statement, then Evento over HTTP, interleaved.",
		FlagSet:    fs,
		Exec:       noArgs(func(ctx context.Context) error { return runBench(ctx, cfg) }),
	}
}

func runBench(ctx context.Context, cfg benchConfig) error {
	counts, err := parseCounts(cfg.clients)
	if err != nil {
		return err
	}
	buckets, err := parseBuckets(cfg.buckets)
	if err != nil {
		return err
	}
	strategies, err := parseBenchStrategies(cfg.strategies, cfg.keys, buckets)
	if err != nil {
		return err
	}
	if cfg.rounds < 1 {
		return usagef("--rounds must be at least 1, got %d", cfg.rounds)
	}
	if cfg.duration < time.Second || cfg.duration%time.Second != 0 {
		return usagef("--duration must be whole seconds (pgbench measures in seconds), got %s", cfg.duration)
	}
	if cfg.servers < 1 || cfg.pool < 1 {
		return usagef("--servers, --pool, --hotels and --events must be at least 1, --rooms between 0 and %d", maxRooms)
	}
	bench, err := lab.Bench(ctx, lab.BenchConfig{
		Database: cfg.db.resolve, Clients: counts, Strategies: strategies, Rounds: cfg.rounds, Duration: cfg.duration,
		Servers: cfg.servers, Pool: cfg.pool, SkipChecks: cfg.skipChecks, Log: os.Stderr,
	})
	if err != nil {
		return err
	}
	_ = bench.WriteText(os.Stdout) // as fmt.Printf would: the table is not worth failing over
	if cfg.out != "" {
		return bench.Save(cfg.out)
	}
	return nil
}

// parseBenchStrategies reads --strategies, where NAME+keys is NAME with
// idempotency keys; with --keys every strategy is also measured keyed. A
// strategy that books buckets is measured once per count in buckets, as
// NAME/K.
func parseBenchStrategies(list string, keys bool, buckets []int) ([]string, error) {
	var strategies []string
	add := func(label string) {
		if !slices.Contains(strategies, label) {
			strategies = append(strategies, label)
		}
	}
	for _, name := range strings.Split(list, ",") {
		// Each entry on its own: "all" (or "all+keys") stands for many.
		bare, keyed := strings.CutSuffix(strings.TrimSpace(name), lab.KeyedSuffix)
		bare, route, routed := strings.Cut(bare, lab.RouteSeparator)
		if r, err := client.ParseRoute(route); routed && (err != nil || r == client.RoundRobin) {
			return nil, usagef("--strategies %q: a route after %q is one of: %s (round-robin is the default: leave it out)", name, lab.RouteSeparator, client.ByHotel)
		}
		if strings.HasSuffix(bare, lab.KeyedSuffix) {
			return nil, usagef("--strategies %q: write %s%s%s%s, the route before the keys", name, strings.TrimSuffix(bare, lab.KeyedSuffix), lab.RouteSeparator, route, lab.KeyedSuffix)
		}
		modes, err := parseStrategies(bare)
		if err != nil {
			return nil, err
		}
		for _, mode := range modes {
			labels := []string{mode}
			if s, _ := db.LookupStrategy(mode); s.SplitsHotels(1) > 0 {
				labels = labels[:0]
				for _, k := range buckets {
					labels = append(labels, fmt.Sprintf("%s%s%d", mode, lab.BucketsSeparator, k))
				}
			}
			if routed {
				for i := range labels {
					labels[i] += lab.RouteSeparator + route
				}
			}
			for _, label := range labels {
				if !keyed {
					add(label)
				}
				if keyed || keys {
					add(label + lab.KeyedSuffix)
				}
			}
		}
	}
	return strategies, nil
}

// parseBuckets reads --buckets: bucket counts from 1 to maxBuckets (repeats
// are measured once: parseBenchStrategies keeps each label once).
func parseBuckets(list string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxBuckets {
			return nil, usagef("--buckets takes bucket counts from 1 to %d, comma-separated, got %q", maxBuckets, f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

func parseCounts(list string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usagef("--clients takes positive integers, got %q", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}
