package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/lab"
	"github.com/evento-lab/evento/lab/report"
)

type compareConfig struct {
	run        runConfig
	strategies string
	out        string
	csv        string
	rounds     int
	wide       bool
}

func newCompareCommand() *ffcli.Command {
	var cfg compareConfig
	fs := flag.NewFlagSet("evento compare", flag.ContinueOnError)
	registerRunFlags(fs, &cfg.run)
	fs.StringVar(&cfg.strategies, "strategies", "all", `strategies to compare, "all" or a comma-separated list`)
	fs.StringVar(&cfg.out, "out", "", "write report.json, report.csv and report.html into this directory (checked before anything runs)")
	fs.StringVar(&cfg.csv, "csv", "", `write the table as CSV to this file ("-": to stdout, instead of the table); one line per strategy, and per run with --rounds`)
	fs.IntVar(&cfg.rounds, "rounds", 1, "run every strategy this many times, interleaved round by round, and report medians and their spread")
	fs.BoolVar(&cfg.wide, "wide", false, "print every column (reservations/s, p50, server retries, mean batch, errors); the default table fits 100 columns")
	return &ffcli.Command{
		Name:       "compare",
		ShortUsage: "evento compare [--strategies all|a,b,...] [--rounds N] [--clients 200] [--rooms 200] [--servers 2] [--think ...] [--seed N] [--out DIR] [--csv FILE|-] [--wide]",
		ShortHelp:  "Run every chosen strategy on the same workload and print one table.",
		FlagSet:    fs,
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

// runCompare runs the strategies against the same servers, each on a
// fresh event, with the same seed and workload, round after round.
func runCompare(ctx context.Context, cfg compareConfig) error {
	names, err := parseStrategies(cfg.strategies)
	if err != nil {
		return err
	}
	if cfg.strategies == "all" && cfg.run.load.holds > 0 {
		var left []string
		if names, left = withoutBuckets(names); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "evento: with --holds, compare leaves out %s: its hotels' rooms are in buckets, which holds cannot take\n", strings.Join(left, ", "))
		}
	}
	if err := refuseHoldsInBuckets(names, cfg.run.load.holds); err != nil {
		return err
	}
	if cfg.rounds < 1 {
		return usagef("--rounds must be at least 1")
	}
	if cfg.csv == "-" && cfg.run.load.json {
		return usagef("--csv - and --json both want stdout; give --csv a file")
	}
	labCfg, err := cfg.run.lab()
	if err != nil {
		return err
	}
	// A comparison takes minutes: find out now, not after it, that its
	// files cannot be written.
	if cfg.out != "" {
		if err := report.CheckDir(cfg.out); err != nil {
			return usagef("--out %s: %v", cfg.out, dirError(err))
		}
	}
	if cfg.csv != "" && cfg.csv != "-" {
		if err := report.CheckDir(filepath.Dir(cfg.csv)); err != nil {
			return usagef("--csv %s: %v", cfg.csv, dirError(err))
		}
	}
	closeHistory, err := cfg.run.openHistory(&labCfg)
	if err != nil {
		return err
	}
	defer closeHistory()
	if !cfg.run.load.json && cfg.csv != "-" {
		labCfg.Progress.Strategy = func(name string, round, rounds int) {
			if rounds > 1 {
				fmt.Fprintf(os.Stderr, "evento: round %d of %d: running %s\n", round, rounds, name)
				return
			}
			fmt.Fprintf(os.Stderr, "evento: running %s\n", name)
		}
	}
	comparison, err := lab.Compare(ctx, labCfg, names, cfg.rounds)
	if err != nil {
		return err
	}
	if cfg.out != "" {
		written, err := comparison.Save(cfg.out)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "evento: wrote %s\n", strings.Join(written, ", "))
	}
	if cfg.csv != "" && cfg.csv != "-" {
		f, err := os.Create(cfg.csv)
		if err == nil {
			err = comparison.WriteCSV(f)
			if closeErr := f.Close(); err == nil {
				err = closeErr
			}
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", cfg.csv, err)
		}
		fmt.Fprintf(os.Stderr, "evento: wrote %s\n", cfg.csv)
	}
	switch {
	case cfg.run.load.json:
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(comparison)
	case cfg.csv == "-":
		err = comparison.WriteCSV(os.Stdout)
	default:
		err = comparison.WriteText(os.Stdout, report.TextOptions{Wide: cfg.wide})
	}
	if err != nil {
		return fmt.Errorf("print comparison: %w", err)
	}
	if ctx.Err() != nil {
		return exitCode(130)
	}
	return nil
}

// dirError says why a directory cannot take the files: the write check's
// temporary file name is noise ("not writable: permission denied"), a
// failed mkdir names the path that failed.
func dirError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == "open" {
		return fmt.Errorf("not writable: %w", pe.Err)
	}
	return err
}
