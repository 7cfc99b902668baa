package main

import (
	"context"
	"flag"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/lab"
	"github.com/evento-lab/evento/lab/nemesis"
)

type runConfig struct {
	db         databaseFlags
	load       loadFlags
	servers    int
	pool       int
	rooms      int
	hotels     int
	events     int
	raceWindow time.Duration
	faults     faultFlags
	auth       bool
	pgbouncer  bool
	bouncePool int
	buckets    int
	// standbyPause is --standby-pause.
	standbyPause time.Duration
}

// registerRunFlags serves both the root command and `evento run`, which
// are the same experiment.
func registerRunFlags(fs *flag.FlagSet, cfg *runConfig) {
	cfg.db.register(fs)
	cfg.db.registerHA(fs)
	cfg.load.register(fs)
	fs.IntVar(&cfg.servers, "servers", 2, "server processes to start")
	fs.IntVar(&cfg.pool, "pool", 0, "database connections of each server (0: "+strconv.Itoa(db.DefaultServerPool)+"; with --pgbouncer, twice each server's share of --pgbouncer-pool, so that queries wait in the server rather than in PgBouncer's queue)")
	fs.IntVar(&cfg.rooms, "rooms", 200, "rooms per hotel")
	fs.IntVar(&cfg.hotels, "hotels", 3, "hotels per event")
	fs.IntVar(&cfg.events, "events", 1, "events to seed")
	fs.IntVar(&cfg.buckets, "buckets", lab.DefaultBuckets, "bucket rows each hotel is split into, for a strategy that books buckets (sharded)")
	fs.DurationVar(&cfg.raceWindow, "race-window", 0, "demo: servers delay every booking write by this long, so races show on every run")
	cfg.faults.register(fs, nemesis.Kinds)
	fs.DurationVar(&cfg.standbyPause, "standby-pause", 0, "with --faults lag-failover or stall-standby: how long the standby falls behind or stays frozen (0: 1s and 3s, under the servers' 5s --query-timeout; past it, COMMITs waiting for a synchronous standby are cancelled, already committed on the primary, and answered 504)")
	fs.BoolVar(&cfg.pgbouncer, "pgbouncer", false, "put a throwaway PgBouncer (pool_mode = transaction) between the servers and PostgreSQL; the report shows PostgreSQL's peak client backends")
	fs.IntVar(&cfg.bouncePool, "pgbouncer-pool", 20, "with --pgbouncer: PgBouncer's server connections (default_pool_size)")
	fs.BoolVar(&cfg.auth, "auth", false, "start the servers with --auth keys and give every simulated client an API key of its own (default: one anonymous client, hold cap and cooldown off)")
}

const runUsage = "evento [run] [--clients 200] [--strategy naive] [--rooms 200] [--servers 2] [flags]"

func newRunCommand() *ffcli.Command {
	var cfg runConfig
	fs := flag.NewFlagSet("evento run", flag.ContinueOnError)
	registerRunFlags(fs, &cfg)
	return &ffcli.Command{
		Name:       "run",
		ShortUsage: runUsage,
		ShortHelp:  "Run the experiment (the same as evento with no subcommand).",
		FlagSet:    fs,
		Exec:       noArgs(func(ctx context.Context) error { return runExperiment(ctx, cfg) }),
	}
}

// runExperiment seeds a new event, starts the servers, runs the clients,
// and judges the outcome from the database and the clients' ledger.
func runExperiment(ctx context.Context, cfg runConfig) error {
	labCfg, err := cfg.lab()
	if err != nil {
		return err
	}
	if err := refuseHoldsInBuckets([]string{cfg.load.strategy}, cfg.load.holds); err != nil {
		return err
	}
	closeHistory, err := cfg.openHistory(&labCfg)
	if err != nil {
		return err
	}
	defer closeHistory()
	report, err := lab.Run(ctx, labCfg, cfg.load.strategy)
	if err != nil {
		return err
	}
	return cfg.load.finish(ctx, report, os.Stdout)
}

// lab validates the flags and turns them into the lab's configuration.
func (cfg *runConfig) lab() (lab.Config, error) {
	think, err := cfg.load.validate()
	if err != nil {
		return lab.Config{}, err
	}
	for _, f := range []struct {
		name            string
		value, min, max int
	}{
		{"servers", cfg.servers, 1, maxServers}, {"pool", cfg.pool, 0, maxPool},
		{"pgbouncer-pool", cfg.bouncePool, 1, maxPool}, {"hotels", cfg.hotels, 1, maxHotels}, {"events", cfg.events, 1, maxEvents}, {"rooms", cfg.rooms, 0, maxRooms},
		{"buckets", cfg.buckets, 1, maxBuckets},
	} {
		if f.value < f.min || f.value > f.max {
			return lab.Config{}, usagef("--%s must be from %d to %d, got %d", f.name, f.min, f.max, f.value)
		}
	}
	if cfg.standbyPause < 0 {
		return lab.Config{}, usagef("--standby-pause must be 0 or positive, got %s", cfg.standbyPause)
	}
	if err := cfg.db.validateHA(cfg.pgbouncer); err != nil {
		return lab.Config{}, err
	}
	faults, err := cfg.faults.parse(cfg.db.ha)
	if err != nil {
		return lab.Config{}, err
	}
	if slices.Contains(faults, nemesis.DiskFull) {
		if cfg.db.dir != "" {
			return lab.Config{}, usagef("--faults %s fills a small disk made for a throwaway PostgreSQL, not the one kept in --db-dir", nemesis.DiskFull)
		}
		cfg.db.smallDisk = true
	}
	return lab.Config{
		Database: cfg.db.resolve, Servers: cfg.servers, Pool: cfg.pool, RaceWindow: cfg.raceWindow,
		Events: cfg.events, Hotels: cfg.hotels, Rooms: cfg.rooms, Buckets: cfg.buckets,
		Clients: cfg.load.clientConfig(think), Timeout: cfg.load.timeout,
		Faults: faults, FaultEvery: cfg.faults.every, StandbyPause: cfg.standbyPause, Auth: cfg.auth,
		PgBouncer: cfg.pgbouncer, PgBouncerPool: cfg.bouncePool,
		Progress: lab.Progress{Clients: cfg.load.progressDisplay()},
		Log:      os.Stderr,
	}, nil
}

// openHistory opens --history's file, when given, for the lab to write the
// runs' histories to; the returned function closes it.
func (cfg *runConfig) openHistory(labCfg *lab.Config) (func() error, error) {
	w, closeHistory, err := cfg.faults.openHistory()
	if err != nil {
		return nil, err
	}
	labCfg.History, labCfg.Clients.History = w, w != nil
	return closeHistory, nil
}
