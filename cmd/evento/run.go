package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/load"
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
}

// registerRunFlags serves both the root command and `evento run`, which
// are the same experiment.
func registerRunFlags(fs *flag.FlagSet, cfg *runConfig) {
	cfg.db.register(fs)
	cfg.load.register(fs)
	fs.IntVar(&cfg.servers, "servers", 2, "server processes to start")
	fs.IntVar(&cfg.pool, "pool", 20, "database connections of each server")
	fs.IntVar(&cfg.rooms, "rooms", 200, "rooms per hotel")
	fs.IntVar(&cfg.hotels, "hotels", 3, "hotels per event")
	fs.IntVar(&cfg.events, "events", 1, "events to seed")
	fs.DurationVar(&cfg.raceWindow, "race-window", 0, "demo: servers delay every booking write by this long, so races show on every run")
}

// sweepEvery is how often the run's servers expire overdue holds.
const sweepEvery = 250 * time.Millisecond

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
		Options:    []ff.Option{ff.WithEnvVarPrefix("EVENTO")},
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q", args[0])
			}
			return runExperiment(ctx, cfg)
		},
	}
}

// runExperiment seeds a new event, starts the servers, runs the clients,
// and judges the outcome from the database and the clients' ledger.
func runExperiment(ctx context.Context, cfg runConfig) error {
	think, err := cfg.load.validate()
	if err != nil {
		return err
	}
	if cfg.servers < 1 || cfg.pool < 1 || cfg.rooms < 0 || cfg.rooms > maxRooms || cfg.hotels < 1 || cfg.events < 1 {
		return usagef("--servers, --pool, --hotels and --events must be at least 1, --rooms between 0 and %d", maxRooms)
	}
	database, err := cfg.db.resolve(ctx, cfg.servers*cfg.pool+20)
	if err != nil {
		return err
	}
	defer database.Close()
	pool, err := db.OpenPool(ctx, database.URL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool); err != nil {
		return err
	}

	var targets []load.Target
	var eventIDs []int64
	for i := range cfg.events {
		name := fmt.Sprintf("%s run %s #%d", cfg.load.strategy, time.Now().UTC().Format(time.RFC3339), i+1)
		event, err := db.Seed(ctx, pool, db.SeedSpec{Name: name, Hotels: cfg.hotels, Rooms: int32(cfg.rooms)})
		if err != nil {
			return err
		}
		eventIDs = append(eventIDs, event.EventID)
		for _, h := range event.Hotels {
			targets = append(targets, load.Target{EventID: event.EventID, HotelID: h.HotelID, Name: h.Name, Assigned: int64(h.Rooms)})
		}
	}

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the evento binary to start servers: %w", err)
	}
	servers, err := load.StartServers(ctx, load.ServerSpec{
		Executable:  exe,
		DatabaseURL: database.URL,
		Args: []string{
			"--pool", strconv.Itoa(cfg.pool),
			"--max-rooms", strconv.Itoa(cfg.load.maxRooms),
			"--race-window", cfg.raceWindow.String(),
			"--sweep-every", sweepEvery.String(),
		},
	}, cfg.servers)
	if err != nil {
		return err
	}
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.URL
	}

	runner, err := load.NewRunner(cfg.load.config(urls, targets, think))
	if err != nil {
		load.StopServers(servers)
		return usageError{err}
	}
	result := cfg.load.runClients(ctx, runner)
	if cfg.load.holds > 0 && ctx.Err() == nil {
		// Abandoned holds must expire and be swept before the verdict can
		// say nothing leaked; the servers are still up to sweep them.
		if err := db.WaitForHoldsToSettle(ctx, pool, eventIDs, 3*sweepEvery); err != nil && ctx.Err() == nil {
			load.StopServers(servers)
			return err
		}
	}
	stopErr := load.StopServers(servers)

	// Judge even after Ctrl-C: a partial run still has a verdict.
	verifyCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	records, err := db.EventRecords(verifyCtx, pool, eventIDs)
	if err != nil {
		return err
	}
	report, err := load.BuildReport(load.Meta{
		Strategy: cfg.load.strategy, Clients: cfg.load.clients, Servers: cfg.servers,
		Seed: cfg.load.seed, Think: think, VerifiedBy: "database",
	}, result, observedFromRecords(records))
	if err != nil {
		return err
	}
	if stopErr != nil {
		report.Notes = append(report.Notes, "a server did not stop cleanly: "+stopErr.Error())
	}
	if report.Requests.Error > 0 {
		report.Notes = append(report.Notes, fmt.Sprintf("%d requests failed or timed out (transport errors or 5xx); with idempotency keys their outcomes were recovered by resending; otherwise the servers' warnings say why", report.Requests.Error))
	}
	return cfg.load.finish(ctx, report, os.Stdout)
}
