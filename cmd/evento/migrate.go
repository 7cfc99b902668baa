package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/peterbourgon/ff/v3/ffcli"
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
		Exec: noArgs(func(ctx context.Context) error {
			_, _, closeDB, err := openMigratedDatabase(ctx, dbFlags, "")
			if err != nil {
				return err
			}
			closeDB()
			fmt.Fprintln(os.Stderr, "evento: migrations applied")
			return nil
		}),
	}
}
