package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/lab/explain"
)

// explainDatabase is the database explain runs in, on the resolved
// server: every run empties its tables, so it is never the one the
// service or the lab writes to.
const explainDatabase = "evento_explain"

type explainConfig struct {
	db       databaseFlags
	strategy string
	scenario string
	json     bool
	wide     bool
	spec     string
}

func newExplainCommand() *ffcli.Command {
	var cfg explainConfig
	fs := flag.NewFlagSet("evento explain", flag.ContinueOnError)
	cfg.db.register(fs)
	fs.StringVar(&cfg.strategy, "strategy", "all", "a strategy, check-then-act (the anti-pattern), or all")
	fs.StringVar(&cfg.scenario, "scenario", "all", "one of "+strings.Join(explain.ScenarioNames(), ", ")+", or all")
	fs.BoolVar(&cfg.json, "json", false, "print the table and every timeline as JSON")
	fs.BoolVar(&cfg.wide, "wide", false, "print each statement on one line and the table's cells in full (the default fits 100 columns)")
	fs.StringVar(&cfg.spec, "spec", "", "also write each run as an isolation-tester spec and its expected output in this directory")
	return &ffcli.Command{
		Name:       "explain",
		ShortUsage: "evento explain [--strategy S|all] [--scenario X|all] [--wide] [--json] [--spec DIR]",
		ShortHelp:  "Replay each anomaly step by step with the strategies' real SQL, and say how each strategy stops it.",
		LongHelp: "Runs in the database " + explainDatabase + " of the resolved server (created if missing, emptied before\n" +
			"every run). " + explain.Probes + ".",
		FlagSet: fs,
		Options: []ff.Option{ff.WithEnvVarPrefix("EVENTO")},
		Exec:    noArgs(func(ctx context.Context) error { return runExplain(ctx, cfg) }),
	}
}

func runExplain(ctx context.Context, cfg explainConfig) error {
	// --strategy is a row of the table, both rows of the check-then-act
	// anti-pattern, or every row (nil); --scenario a column, or all.
	var subjects, scenarios []string
	switch {
	case cfg.strategy == "all":
	case cfg.strategy == "check-then-act":
		subjects = []string{explain.CheckThenActRC, explain.CheckThenActRR}
	case slices.Contains(explain.Subjects(nil), cfg.strategy):
		subjects = []string{cfg.strategy}
	default:
		return usagef("unknown --strategy %q (want a strategy, check-then-act, or all)", cfg.strategy)
	}
	switch {
	case cfg.scenario == "all":
	case slices.Contains(explain.ScenarioNames(), cfg.scenario):
		scenarios = []string{cfg.scenario}
	default:
		return usagef("unknown --scenario %q (want %s or all)", cfg.scenario, strings.Join(explain.ScenarioNames(), ", "))
	}
	pool, url, closeDB, err := openMigratedDatabase(ctx, cfg.db, explainDatabase)
	if err != nil {
		return err
	}
	defer closeDB()
	rep, err := explain.Explain(ctx, explain.Target{Pool: pool, URL: url}, nil, subjects, scenarios)
	if err != nil {
		return err
	}
	if cfg.spec != "" {
		specs, err := explain.WriteSpecs(cfg.spec, rep.Runs)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "evento explain: wrote %d specs to %s; check them with PostgreSQL's isolation tester, on a migrated database it may empty:\n"+
			"  pg_isolation_regress --use-existing --inputdir %[2]s --schedule %[2]s/schedule --dbname %[3]s --host HOST --port PORT --user USER\n",
			len(specs), cfg.spec, explainDatabase)
	}
	if cfg.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("print the report: %w", err)
		}
		return nil
	}
	for _, r := range rep.Runs {
		if !strings.HasPrefix(r.Cell, "n/a") {
			explain.WriteTimeline(os.Stdout, r, rep.Server, cfg.wide)
		}
	}
	explain.WriteTable(os.Stdout, rep, cfg.wide)
	return nil
}
