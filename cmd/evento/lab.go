package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/load"
)

// lab is one database and its running server processes, ready for any
// number of experiments; each experiment seeds an event of its own.
type lab struct {
	database *localpg.Resolved
	pool     *pgxpool.Pool
	servers  []*load.ServerProcess
	urls     []string
}

func openLab(ctx context.Context, cfg runConfig) (*lab, error) {
	l := &lab{}
	if err := l.open(ctx, cfg); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// open fills l step by step; close undoes whatever it got to.
func (l *lab) open(ctx context.Context, cfg runConfig) (err error) {
	if l.database, err = cfg.db.resolve(ctx, cfg.servers*cfg.pool+20); err != nil {
		return err
	}
	if l.pool, err = db.OpenPool(ctx, l.database.URL, 4); err != nil {
		return err
	}
	if err := db.Migrate(ctx, l.pool); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the evento binary to start servers: %w", err)
	}
	l.servers, err = load.StartServers(ctx, load.ServerSpec{
		Executable:  exe,
		DatabaseURL: l.database.URL,
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
	for _, s := range l.servers {
		l.urls = append(l.urls, s.URL)
	}
	return nil
}

// close stops the servers, then the database; it reports how the servers
// ended.
func (l *lab) close() error {
	err := load.StopServers(l.servers)
	if l.pool != nil {
		l.pool.Close()
	}
	if l.database != nil {
		l.database.Close()
	}
	return err
}

// experiment runs the clients with one strategy against a new event and
// judges the run. It still judges a run cut short by ctx.
func (l *lab) experiment(ctx context.Context, cfg runConfig, strategy string, think load.Range) (load.Report, error) {
	var targets []load.Target
	var eventIDs []int64
	for i := range cfg.events {
		name := fmt.Sprintf("%s run %s #%d", strategy, time.Now().UTC().Format(time.RFC3339), i+1)
		event, err := db.Seed(ctx, l.pool, db.SeedSpec{Name: name, Hotels: cfg.hotels, Rooms: int32(cfg.rooms)})
		if err != nil {
			return load.Report{}, err
		}
		eventIDs = append(eventIDs, event.EventID)
		for _, h := range event.Hotels {
			targets = append(targets, load.Target{EventID: event.EventID, HotelID: h.HotelID, Name: h.Name, Assigned: int64(h.Rooms)})
		}
	}
	clients := cfg.load.config(l.urls, targets, think)
	clients.Strategy = strategy
	runner, err := load.NewRunner(clients)
	if err != nil {
		return load.Report{}, usageError{err}
	}
	before, scrapeErr := load.ScrapeServerStats(ctx, l.urls)
	result := cfg.load.runClients(ctx, runner)
	if cfg.load.holds > 0 && ctx.Err() == nil {
		// Abandoned holds must expire and be swept before the verdict can
		// say nothing leaked; the servers are still up to sweep them.
		if err := db.WaitForHoldsToSettle(ctx, l.pool, eventIDs, 3*sweepEvery); err != nil && ctx.Err() == nil {
			return load.Report{}, err
		}
	}

	// Judge even after Ctrl-C: a partial run still has a verdict.
	verifyCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	records, err := db.EventRecords(verifyCtx, l.pool, eventIDs)
	if err != nil {
		return load.Report{}, err
	}
	report, err := load.BuildReport(load.Meta{
		Strategy: strategy, Clients: cfg.load.clients, Servers: cfg.servers,
		Seed: cfg.load.seed, Think: think, VerifiedBy: "database",
	}, result, observedFromRecords(records))
	if err != nil {
		return load.Report{}, err
	}
	if after, err := load.ScrapeServerStats(verifyCtx, l.urls); err == nil && scrapeErr == nil {
		delta := after.Sub(before)
		report.Server = &delta
	}
	report.Notes = append(report.Notes, errorNote(report, cfg.load.noIdempotency)...)
	return report, nil
}
