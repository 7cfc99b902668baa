package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/lab"
)

type compareConfig struct {
	run        runConfig
	strategies string
	out        string
}

func newCompareCommand() *ffcli.Command {
	var cfg compareConfig
	fs := flag.NewFlagSet("evento compare", flag.ContinueOnError)
	registerRunFlags(fs, &cfg.run)
	fs.StringVar(&cfg.strategies, "strategies", "all", `strategies to compare, "all" or a comma-separated list`)
	fs.StringVar(&cfg.out, "out", "", "write report.json and report.html into this directory")
	return &ffcli.Command{
		Name:       "compare",
		ShortUsage: "evento compare [--strategies all|a,b,...] [--clients 200] [--rooms 200] [--servers 2] [--think ...] [--seed N] [--out DIR]",
		ShortHelp:  "Run every chosen strategy on the same workload and print one table.",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("EVENTO")},
		Exec: noArgs(func(ctx context.Context) error {
			var misplaced error
			fs.Visit(func(f *flag.Flag) {
				switch f.Name {
				case "strategy", "mode":
					misplaced = usagef("compare takes --strategies, not --%s", f.Name)
				case "expect":
					misplaced = usagef("--expect applies to evento run; compare reports every verdict")
				}
			})
			if misplaced != nil {
				return misplaced
			}
			return runCompare(ctx, cfg)
		}),
	}
}

// runCompare runs the strategies one after the other against the same
// servers, each on a fresh event, with the same seed and workload.
func runCompare(ctx context.Context, cfg compareConfig) error {
	names, err := parseStrategies(cfg.strategies)
	if err != nil {
		return err
	}
	labCfg, err := cfg.run.lab()
	if err != nil {
		return err
	}
	closeHistory, err := cfg.run.openHistory(&labCfg)
	if err != nil {
		return err
	}
	defer closeHistory()
	if !cfg.run.load.json {
		labCfg.Progress.Strategy = func(name string) { fmt.Fprintf(os.Stderr, "evento: running %s\n", name) }
	}
	comparison, err := lab.Compare(ctx, labCfg, names)
	if err != nil {
		return err
	}
	if cfg.out != "" {
		if err := comparison.Save(cfg.out); err != nil {
			return err
		}
	}
	if cfg.run.load.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(comparison); err != nil {
			return fmt.Errorf("print comparison: %w", err)
		}
	} else if err := comparison.WriteText(os.Stdout); err != nil {
		return fmt.Errorf("print comparison: %w", err)
	}
	if ctx.Err() != nil {
		return exitCode(130)
	}
	return nil
}
