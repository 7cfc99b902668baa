package lab

import (
	"context"
	"fmt"

	"github.com/evento-lab/evento/lab/report"
)

// Compare runs the strategies one after the other against the same
// servers, each on a fresh event, with the same seed and workload, and
// builds the comparison. Interrupted, it compares the runs made so far.
func Compare(ctx context.Context, cfg Config, strategies []string) (report.Comparison, error) {
	cfg.Modes = strategies
	l, err := Open(ctx, cfg)
	if err != nil {
		return report.Comparison{}, err
	}
	var reports []report.Report
	for _, name := range strategies {
		if cfg.Progress.Strategy != nil {
			cfg.Progress.Strategy(name)
		}
		r, err := l.Experiment(ctx, name)
		if err != nil {
			l.Close()
			return report.Comparison{}, err
		}
		reports = append(reports, r)
		if ctx.Err() != nil {
			break
		}
	}
	if err := l.Close(); err != nil && cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "evento: %v\n", err)
	}
	return report.Compare(report.Workload{
		Clients: cfg.Clients.Clients, Servers: cfg.Servers, Hotels: cfg.Hotels,
		Rooms: cfg.Rooms, Think: cfg.Clients.Think.String(), Seed: cfg.Clients.Seed,
	}, reports), nil
}
