package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/db"
)

func newMigrateCommand() *ffcli.Command {
	var dbFlags databaseFlags
	fs := flag.NewFlagSet("evento migrate", flag.ContinueOnError)
	dbFlags.register(fs)
	return &ffcli.Command{
		Name:       "migrate",
		ShortUsage: "evento migrate",
		ShortHelp:  "Apply the schema migrations (serve, seed and run also do this on start).",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("EVENTO")},
		Exec: noArgs(func(ctx context.Context) error {
			database, err := dbFlags.resolve(ctx, 5)
			if err != nil {
				return err
			}
			defer database.Close()
			warnIfThrowaway(database, dbFlags)
			pool, err := db.OpenPool(ctx, database.URL, 2)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := db.Migrate(ctx, pool); err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, "evento: migrations applied")
			return nil
		}),
	}
}
