package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/cluster"
	"github.com/evento-lab/evento/lab/report"
)

// LoadConfig describes a load against servers that already run elsewhere.
type LoadConfig struct {
	Servers []string // base URLs
	EventID int64
	// DatabaseURL, when set, lets the checker read the reservation rows;
	// without it the run is verified through the API alone.
	DatabaseURL string
	Clients     client.Config // the servers, targets are filled in
	Timeout     time.Duration // stops the clients
	Progress    func(r *client.Runner) (stop func())
}

// Load runs the clients against an event on running servers and judges
// only the change it made: the event may not be fresh.
func Load(ctx context.Context, cfg LoadConfig) (report.Report, error) {
	api := client.NewAPI(cfg.Servers, cfg.Clients.ConnsPerServer, cfg.Clients.RequestTimeout)
	defer api.CloseIdleConnections()
	hotels, err := api.Event(ctx, cfg.EventID)
	if err != nil {
		return report.Report{}, err
	}
	targets := make([]client.Target, len(hotels))
	for i, h := range hotels {
		targets[i] = client.Target{EventID: cfg.EventID, HotelID: h.HotelID, Name: h.Name, Assigned: h.Assigned}
	}
	observe := checker.ThroughAPI(api, cfg.EventID)
	verifiedBy := "api"
	if cfg.DatabaseURL != "" {
		pool, err := db.OpenPool(ctx, cfg.DatabaseURL, 2)
		if err != nil {
			return report.Report{}, err
		}
		defer pool.Close()
		observe = observeDatabase(pool, []int64{cfg.EventID})
		verifiedBy = "database"
	}
	// The event may not be fresh: the ledger is judged against what is
	// booked from now on.
	before, err := observe(ctx)
	if err != nil {
		return report.Report{}, err
	}

	clients := cfg.Clients
	clients.Servers, clients.Targets = cfg.Servers, targets
	runner, err := client.NewRunner(clients)
	if err != nil {
		return report.Report{}, err
	}
	result := runClients(ctx, runner, cfg.Timeout, cfg.Progress)
	if clients.AbandonShare > 0 && clients.HoldShare > 0 && ctx.Err() == nil {
		// Give abandoned holds time to expire and the servers' sweepers
		// (every second by default) time to free them.
		select {
		case <-time.After(clients.HoldTTL + 3*time.Second):
		case <-ctx.Done():
		}
	}

	verifyCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	after, err := observe(verifyCtx)
	if err != nil {
		return report.Report{}, err
	}
	bookedBefore := checker.Since(after, before)
	checked, err := checker.Check(result, after)
	if err != nil {
		return report.Report{}, err
	}
	r := report.Build(report.Meta{
		Strategy: clients.Strategy, Clients: clients.Clients, Servers: len(cfg.Servers),
		Seed: clients.Seed, Think: clients.Think, VerifiedBy: verifiedBy,
		LoadPeakMemoryBytes: cluster.PeakRSSBytes(),
	}, result, checked)
	if bookedBefore > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf(
			"the event already had %d rooms booked before this load; the ledger is compared with the rooms booked since", bookedBefore))
	}
	r.Notes = append(r.Notes, errorNote(r, !clients.Idempotency)...)
	return r, nil
}
