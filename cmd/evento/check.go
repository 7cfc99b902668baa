package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/lab"
	"github.com/evento-lab/evento/lab/checker"
)

type checkConfig struct {
	db       databaseFlags
	event    int64
	complete bool
	report   reportFlags
}

func newCheckCommand() *ffcli.Command {
	var cfg checkConfig
	fs := flag.NewFlagSet("evento check", flag.ContinueOnError)
	cfg.db.register(fs)
	fs.Int64Var(&cfg.event, "event", 0, "the event the histories booked at (required)")
	fs.BoolVar(&cfg.complete, "complete", false, "the histories are every client that booked the event: a reservation no history claims is a phantom booking, not someone else's")
	cfg.report.register(fs)
	return &ffcli.Command{
		Name:       "check",
		ShortUsage: "evento check --event ID HISTORY [HISTORY...]",
		ShortHelp:  "Judge one event from the --history files of several evento load processes, merged, against the database.",
		FlagSet:    fs,
		Exec: func(ctx context.Context, args []string) error {
			paths, err := flagsAmongFiles(fs, args)
			if err != nil {
				return err
			}
			return runCheck(ctx, cfg, paths)
		},
	}
}

// flagsAmongFiles parses the flags that follow the first file name as
// well (evento check --event 2 h.jsonl --json): the flag package stops at
// the first argument that is not a flag, and "--json" would be read as a
// file. After "--", everything is a file.
func flagsAmongFiles(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for len(args) > 0 {
		files = append(files, args[0])
		rest := args[1:]
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v (see evento %s --help)", err, strings.TrimPrefix(fs.Name(), "evento "))
		}
		args = fs.Args()
		if consumed := len(rest) - len(args); consumed > 0 && rest[consumed-1] == "--" {
			return append(files, args...), nil
		}
	}
	return files, nil
}

func runCheck(ctx context.Context, cfg checkConfig, paths []string) error {
	switch {
	case cfg.event < 1:
		return usagef("--event is required: the event the histories booked at")
	case len(paths) == 0:
		return usagef("give the --history files of the loads to check: evento check --event %d FILE...", cfg.event)
	case cfg.report.expect != "" && cfg.report.expect != checker.Consistent:
		return usagef(`--expect takes "consistent"`)
	}
	// A throwaway server started now would hold no event: the check reads
	// the database the servers wrote to, named by DATABASE_URL, else the
	// default URL and nothing else, or a kept one (--db-dir).
	d := cfg.db
	if d.embedded && d.dir == "" {
		return usagef("--embedded: a throwaway database holds no event to check; set DATABASE_URL to the servers' database, or --db-dir to a kept one")
	}
	if d.url == "" && d.dir == "" {
		d.url = cmp.Or(os.Getenv(testDefaultURLEnv), localpg.DefaultURL)
	}
	database, err := d.resolve(ctx, 2)
	if err != nil {
		return err
	}
	defer database.Close()
	pool, err := db.OpenPool(ctx, database.URL, 2)
	if err != nil {
		return fmt.Errorf("open the database: %w", err)
	}
	defer pool.Close()
	r, err := lab.CheckHistories(ctx, pool, lab.CheckConfig{EventID: cfg.event, Paths: paths, Complete: cfg.complete})
	var history *lab.HistoryError
	var noEvent *lab.NoSuchEventError
	switch {
	case errors.As(err, &history):
		return usageError{history}
	case errors.As(err, &noEvent):
		return usagef("--event %d: the database at %s has no such event (is it the servers' database?)", cfg.event, redactURL(database.URL))
	case err != nil:
		return err
	}
	return cfg.report.finish(ctx, r, os.Stdout)
}
