package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/load"
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
	think, err := cfg.run.validate()
	if err != nil {
		return err
	}
	l, err := openLab(ctx, cfg.run)
	if err != nil {
		return err
	}
	var reports []load.Report
	for _, name := range names {
		if !cfg.run.load.json {
			fmt.Fprintf(os.Stderr, "evento: running %s\n", name)
		}
		report, err := l.experiment(ctx, cfg.run, name, think)
		if err != nil {
			l.close()
			return err
		}
		reports = append(reports, report)
		if ctx.Err() != nil {
			break
		}
	}
	if err := l.close(); err != nil {
		fmt.Fprintf(os.Stderr, "evento: %v\n", err)
	}
	comparison := load.Compare(load.Workload{
		Clients: cfg.run.load.clients, Servers: cfg.run.servers, Hotels: cfg.run.hotels,
		Rooms: cfg.run.rooms, Think: think.String(), Seed: cfg.run.load.seed,
	}, reports)
	if cfg.out != "" {
		if err := writeComparison(cfg.out, comparison); err != nil {
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

func writeComparison(dir string, c load.Comparison) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	encoded, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, append(encoded, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	path = filepath.Join(dir, "report.html")
	page, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := c.WriteHTML(page); err != nil {
		page.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := page.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
