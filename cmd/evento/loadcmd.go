package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/load"
)

type loadConfig struct {
	load        loadFlags
	targets     string
	event       int64
	databaseURL string
}

func newLoadCommand() *ffcli.Command {
	var cfg loadConfig
	fs := flag.NewFlagSet("evento load", flag.ContinueOnError)
	cfg.load.register(fs)
	fs.StringVar(&cfg.targets, "target", "", "comma-separated base URLs of running servers (required)")
	fs.Int64Var(&cfg.event, "event", 0, "event to book (required; see evento seed)")
	fs.StringVar(&cfg.databaseURL, "database-url", os.Getenv("DATABASE_URL"),
		"when set, also verify against the database's reservation rows (env DATABASE_URL)")
	return &ffcli.Command{
		Name:       "load",
		ShortUsage: "evento load --target URL[,URL...] --event ID [--clients N] [--strategy S] [flags]",
		ShortHelp:  "Run the clients against servers that already run elsewhere.",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("EVENTO")},
		Exec:       noArgs(func(ctx context.Context) error { return runLoad(ctx, cfg) }),
	}
}

func runLoad(ctx context.Context, cfg loadConfig) error {
	think, err := cfg.load.validate()
	if err != nil {
		return err
	}
	if cfg.targets == "" || cfg.event < 1 {
		return usagef("--target and --event are required")
	}
	servers := strings.Split(cfg.targets, ",")
	for i, s := range servers {
		servers[i] = strings.TrimRight(strings.TrimSpace(s), "/")
	}
	event, err := eventThroughAPI(ctx, servers[0], cfg.event)
	if err != nil {
		return err
	}
	targets := make([]load.Target, len(event.Hotels))
	for i, h := range event.Hotels {
		targets[i] = load.Target{EventID: cfg.event, HotelID: h.HotelID, Name: h.Name, Assigned: h.Assigned}
	}
	observe := observeThroughAPI(servers[0], cfg.event)
	verifiedBy := "api"
	if cfg.databaseURL != "" {
		pool, err := db.OpenPool(ctx, cfg.databaseURL, 2)
		if err != nil {
			return err
		}
		defer pool.Close()
		observe = observeThroughDatabase(pool, cfg.event)
		verifiedBy = "database"
	}
	// The event may not be fresh: the ledger is judged against what is
	// booked from now on.
	before, err := observe(ctx)
	if err != nil {
		return err
	}

	runner, err := load.NewRunner(cfg.load.config(servers, targets, think))
	if err != nil {
		return usageError{err}
	}
	result := cfg.load.runClients(ctx, runner)
	if cfg.load.abandon > 0 && cfg.load.holds > 0 && ctx.Err() == nil {
		// Give abandoned holds time to expire and the servers' sweepers
		// (every second by default) time to free them.
		select {
		case <-time.After(cfg.load.holdTTL + 3*time.Second):
		case <-ctx.Done():
		}
	}

	verifyCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	after, err := observe(verifyCtx)
	if err != nil {
		return err
	}
	var bookedBefore int64
	for i := range after {
		for _, b := range before {
			if b.HotelID == after[i].HotelID {
				after[i].BookedBefore, after[i].ReservedBefore = b.Booked, b.Reserved
				bookedBefore += b.Booked
			}
		}
	}
	report, err := load.BuildReport(load.Meta{
		Strategy: cfg.load.strategy, Clients: cfg.load.clients, Servers: len(servers),
		Seed: cfg.load.seed, Think: think, VerifiedBy: verifiedBy,
	}, result, after)
	if err != nil {
		return err
	}
	if bookedBefore > 0 {
		report.Notes = append(report.Notes, fmt.Sprintf(
			"the event already had %d rooms booked before this load; the ledger is compared with the rooms booked since", bookedBefore))
	}
	report.Notes = append(report.Notes, errorNote(report, cfg.load.noIdempotency)...)
	return cfg.load.finish(ctx, report, os.Stdout)
}

type observer func(context.Context) ([]load.Observed, error)

func observeThroughDatabase(pool *pgxpool.Pool, eventID int64) observer {
	return func(ctx context.Context) ([]load.Observed, error) {
		records, err := db.EventRecords(ctx, pool, []int64{eventID})
		if err != nil {
			return nil, err
		}
		return observedFromRecords(records), nil
	}
}

// observeThroughAPI can only see the counters: booked is taken to be the
// counter, and the report says so.
func observeThroughAPI(server string, eventID int64) observer {
	return func(ctx context.Context) ([]load.Observed, error) {
		event, err := eventThroughAPI(ctx, server, eventID)
		if err != nil {
			return nil, err
		}
		observed := make([]load.Observed, len(event.Hotels))
		for i, h := range event.Hotels {
			observed[i] = load.Observed{
				EventID: eventID, HotelID: h.HotelID, Assigned: h.Assigned,
				Reserved: h.Reserved, Locked: h.Locked, Booked: h.Reserved,
			}
		}
		return observed, nil
	}
}

type eventAvailability struct {
	Hotels []struct {
		HotelID  int64  `json:"hotel_id"`
		Name     string `json:"name"`
		Assigned int64  `json:"assigned"`
		Reserved int64  `json:"reserved"`
		Locked   int64  `json:"locked"`
	} `json:"hotels"`
}

func eventThroughAPI(ctx context.Context, server string, eventID int64) (eventAvailability, error) {
	url := fmt.Sprintf("%s/%d/available", server, eventID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return eventAvailability{}, usageError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return eventAvailability{}, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return eventAvailability{}, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	var e eventAvailability
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return eventAvailability{}, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(e.Hotels) == 0 {
		return eventAvailability{}, fmt.Errorf("event %d has no hotels", eventID)
	}
	return e, nil
}
