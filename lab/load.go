package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/cluster"
	"github.com/evento-lab/evento/lab/nemesis"
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
	// Faults the nemesis injects from outside the servers: only
	// nemesis.LoseReplies, through a proxy in front of each server.
	Faults     []string
	FaultEvery time.Duration
	// History, when set, receives the run's history as JSON lines.
	History io.Writer
	// APIKey is sent by every client when the servers require one.
	APIKey string
}

// DatabaseError is a load's database (LoadConfig.DatabaseURL) that could not
// be reached: a fault of that setting, not of the servers.
type DatabaseError struct{ Err error }

func (e *DatabaseError) Error() string { return "the database: " + e.Err.Error() }
func (e *DatabaseError) Unwrap() error { return e.Err }

// Load runs the clients against an event on running servers and judges
// only the change it made: the event may not be fresh.
func Load(ctx context.Context, cfg LoadConfig) (report.Report, error) {
	reader := cfg.Clients
	reader.Servers = cfg.Servers
	api := client.NewAPI(reader)
	defer api.CloseIdleConnections()
	api.UseKey(cfg.APIKey)
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
	var pool *pgxpool.Pool
	if cfg.DatabaseURL != "" {
		if pool, err = db.OpenPool(ctx, cfg.DatabaseURL, 2); err != nil {
			return report.Report{}, &DatabaseError{Err: err}
		}
		defer pool.Close()
		observe = observeDatabase(pool, []int64{cfg.EventID})
		verifiedBy = "database"
	}
	clients := cfg.Clients
	clients.Servers, clients.Targets = cfg.Servers, targets
	if cfg.APIKey != "" {
		cred := client.Credential{Key: cfg.APIKey}
		if pool != nil {
			// The checker finds keys as stored: scoped to the key's client;
			// and reservations record their client, so the load is judged
			// on its own client's rows, whoever else books the event.
			who, err := db.ClientByKey(ctx, pool, evento.HashAPIKey(cfg.APIKey))
			if err != nil {
				return report.Report{}, fmt.Errorf("--api-key: %w", err)
			}
			cred.Client = who.ID
			observe = observeClient(pool, []int64{cfg.EventID}, who.ID)
		}
		clients.Credentials = []client.Credential{cred}
	}
	// The event may not be fresh: the ledger is judged against what is
	// booked from now on.
	before, err := observe(ctx)
	if err != nil {
		return report.Report{}, err
	}

	clients.History = clients.History || cfg.History != nil || len(cfg.Faults) > 0
	var n *nemesis.Nemesis
	if len(cfg.Faults) > 0 {
		proxies, err := startReplyLosers(cfg.Servers)
		if err != nil {
			return report.Report{}, err
		}
		defer proxies.Close()
		clients.Servers = proxies.URLs()
		if n, err = nemesis.New(proxies, cfg.Faults, cfg.FaultEvery, nemesis.Pauses{}, clients.Seed); err != nil {
			return report.Report{}, err
		}
	}
	runner, err := client.NewRunner(clients)
	if err != nil {
		return report.Report{}, err
	}
	result, faults := runClients(ctx, runner, n, cfg.Timeout, cfg.Progress)
	if result.Stopped != nil {
		return report.Report{}, explainStop(result.Stopped)
	}
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
	if pool != nil {
		// A stored booking settles its request for good; a key with none
		// stays unknown: these servers are not the load's to settle.
		if err := resolveUnknowns(verifyCtx, pool, &result, nil); err != nil {
			return report.Report{}, err
		}
	}
	after, err := observe(verifyCtx)
	if err != nil {
		return report.Report{}, err
	}
	bookedBefore := checker.Since(after, before)
	othersDuring := checker.LeaveOutOthers(after, before)
	if pool != nil {
		// Every keyed answer is held against what its key stored.
		if _, err := addKeyedReservations(verifyCtx, pool, ledgerKeys(result), result, after); err != nil {
			return report.Report{}, err
		}
	}
	checked, err := checker.Check(result, after)
	if err != nil {
		return report.Report{}, err
	}
	r := report.Build(report.Meta{
		Strategy: clients.Strategy, Clients: clients.Clients, Servers: len(cfg.Servers), Route: clients.Route,
		Seed: clients.Seed, Think: clients.Think, Rate: clients.Rate, VerifiedBy: verifiedBy,
		LoadPeakMemoryBytes: cluster.PeakRSSBytes(),
	}, result, checked)
	if bookedBefore > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf(
			"the event already had %d rooms booked before this load; the ledger is compared with the rooms booked since", bookedBefore))
	}
	if othersDuring != 0 {
		r.Notes = append(r.Notes, fmt.Sprintf(
			"other clients booked %d rooms of the event (net of their cancels) while this load ran; reservations record their client, so they were left out of the comparison", othersDuring))
	}
	r.SetFaults(faults, result.History)
	r.Notes = append(r.Notes, noFaultNote(cfg.Faults, cfg.FaultEvery, faults, r)...)
	r.Notes = append(r.Notes, errorNote(r, !clients.Idempotency)...)
	if cfg.History != nil {
		run := runLine{Strategy: clients.Strategy, Seed: clients.Seed, Event: cfg.EventID, Clients: clients.Clients, APIKey: cfg.APIKey != ""}
		if err := writeHistory(cfg.History, run, result, faults); err != nil {
			return report.Report{}, err
		}
	}
	return r, nil
}

// explainStop says how to get past what stopped a run: a server that
// does not serve the run's mode is told which flag serves it.
func explainStop(err error) error {
	var refused *client.ModeRefusedError
	if errors.As(err, &refused) && refused.Code == "mode_disabled" {
		return fmt.Errorf("%w; to serve it, start the server with `evento serve --modes all` (every mode, naive too) or a --modes list that names %s", err, refused.Mode)
	}
	return err
}
