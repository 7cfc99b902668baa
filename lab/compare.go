package lab

import (
	"context"
	"fmt"
	"io/fs"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/lab/report"
	"github.com/evento-lab/evento/queries"
)

// Compare runs the strategies against the same servers, each on a fresh
// event, with the same seed and workload, and builds the comparison. With
// rounds > 1 it runs them interleaved, as Bench does: round 1 runs every
// strategy once, then round 2 every strategy again, so that a machine
// getting slower or faster over the minutes touches every strategy alike
// rather than the last ones. Interrupted, it compares the runs made so far.
func Compare(ctx context.Context, cfg Config, strategies []string, rounds int) (report.Comparison, error) {
	cfg.Modes = strategies
	rounds = max(rounds, 1)
	l, err := Open(ctx, cfg)
	if err != nil {
		return report.Comparison{}, err
	}
	machine := Machine(ctx, l)
	var reports []report.Report
runs:
	for round := 1; round <= rounds; round++ {
		for _, name := range strategies {
			if cfg.Progress.Strategy != nil {
				cfg.Progress.Strategy(name, round, rounds)
			}
			r, err := l.Experiment(ctx, name)
			if err != nil {
				l.Close()
				return report.Comparison{}, err
			}
			reports = append(reports, r)
			if ctx.Err() != nil {
				break runs
			}
		}
	}
	if err := l.Close(); err != nil && cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "evento: %v\n", err)
	}
	c := report.Compare(report.Workload{
		Clients: cfg.Clients.Clients, Servers: cfg.Servers, Route: report.RouteNote(cfg.Clients.Route), Pool: ServerPool(cfg), Events: cfg.Events, Hotels: cfg.Hotels,
		Rooms: cfg.Rooms, Think: cfg.Clients.Think.String(), Seed: cfg.Clients.Seed,
		RaceWindow: cfg.RaceWindow.String(), Faults: cfg.Faults, Auth: cfg.Auth,
	}, reports)
	c.Machine, c.SQL = machine, strategySQL(strategies)
	when := map[string]string{}
	for _, s := range db.Strategies {
		when[s.Name] = s.ChooseWhen
	}
	c.Recommendation = append(c.Recommendation, report.BySituation(c.Rows, when)...)
	return c, nil
}

// Machine describes what a lab runs on: the build's commit, the cores
// and the database's version.
func Machine(ctx context.Context, l *Lab) report.Machine {
	m := report.Machine{
		Commit: "unknown", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), PostgreSQL: "unknown",
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				m.Commit = s.Value
			case "vcs.modified":
				m.Modified = s.Value == "true"
			}
		}
	}
	if l != nil {
		m.DatabaseKind, m.Durability = l.databaseKind()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var version string
		if err := l.cluster.Pool.QueryRow(ctx, "SHOW server_version").Scan(&version); err == nil {
			m.PostgreSQL = version
		}
	}
	return m
}

// strategySQL is each strategy's query file as it is embedded in this
// binary (queries/<strategy>.sql), so the page shows what actually ran.
func strategySQL(strategies []string) map[string]string {
	out := map[string]string{}
	for _, name := range strategies {
		if text, err := fs.ReadFile(queries.Files, name+".sql"); err == nil {
			out[name] = string(text)
		}
	}
	return out
}
