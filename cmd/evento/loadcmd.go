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
		Exec:       func(ctx context.Context, _ []string) error { return runLoad(ctx, cfg) },
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
	before, err := eventThroughAPI(ctx, servers[0], cfg.event)
	if err != nil {
		return err
	}
	targets := make([]load.Target, len(before.Hotels))
	for i, h := range before.Hotels {
		targets[i] = load.Target{EventID: cfg.event, HotelID: h.HotelID, Name: h.Name, Assigned: h.Assigned}
	}
	runner, err := load.NewRunner(cfg.load.config(servers, targets, think))
	if err != nil {
		return usageError{err}
	}
	result := cfg.load.runClients(ctx, runner)

	verifyCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	meta := load.Meta{Strategy: cfg.load.strategy, Clients: cfg.load.clients, Servers: len(servers), Seed: cfg.load.seed, Think: think}
	var observed []load.Observed
	if cfg.databaseURL != "" {
		meta.VerifiedBy = "database"
		pool, err := db.OpenPool(verifyCtx, cfg.databaseURL, 2)
		if err != nil {
			return err
		}
		defer pool.Close()
		records, err := db.EventRecords(verifyCtx, pool, []int64{cfg.event})
		if err != nil {
			return err
		}
		observed = observedFromRecords(records)
	} else {
		meta.VerifiedBy = "api"
		after, err := eventThroughAPI(verifyCtx, servers[0], cfg.event)
		if err != nil {
			return err
		}
		for _, h := range after.Hotels {
			observed = append(observed, load.Observed{
				EventID: cfg.event, HotelID: h.HotelID, Assigned: h.Assigned,
				Reserved: h.Reserved, Locked: h.Locked, Booked: h.Reserved,
			})
		}
	}
	report, err := load.BuildReport(meta, result, observed)
	if err != nil {
		return err
	}
	if before.Reserved() > 0 {
		report.Notes = append(report.Notes, fmt.Sprintf(
			"the event already had %d rooms reserved before this load; the ledger covers only this load's clients", before.Reserved()))
	}
	return cfg.load.finish(report, os.Stdout)
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

func (e eventAvailability) Reserved() int64 {
	var n int64
	for _, h := range e.Hotels {
		n += h.Reserved + h.Locked
	}
	return n
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
