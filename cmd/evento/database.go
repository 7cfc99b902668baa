package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/evento-lab/evento/db/localpg"
)

// databaseFlags are shared by every subcommand that needs a database.
type databaseFlags struct {
	url      string
	embedded bool
	dir      string
}

func (d *databaseFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.url, "database-url", os.Getenv("DATABASE_URL"),
		"PostgreSQL URL (env DATABASE_URL); unset: "+localpg.DefaultURL+", else a throwaway server")
	fs.BoolVar(&d.embedded, "embedded", false, "always start a throwaway PostgreSQL, even when a server is reachable")
	fs.StringVar(&d.dir, "db-dir", "", "keep the throwaway PostgreSQL's data in this directory between runs")
}

// resolve finds or starts the database. maxConns sizes a throwaway server
// for the pools that will use it (it is the lab's cluster.Resolver). Durability stays on: figures from a
// server that does not fsync would flatter every strategy.
func (d *databaseFlags) resolve(ctx context.Context, maxConns int) (*localpg.Resolved, error) {
	return localpg.Resolve(ctx, localpg.ResolveOptions{
		DatabaseURL: d.url,
		Embedded:    d.embedded,
		DBDir:       d.dir,
		Durable:     true,
		// Room for more servers than this command's own pools: other
		// `evento serve` processes may share a throwaway server.
		MaxConnections: max(maxConns, 200),
		Log:            os.Stderr,
	})
}

// warnIfThrowaway tells the user that what a one-shot command wrote into a
// throwaway server is gone when it exits.
func warnIfThrowaway(database *localpg.Resolved, d databaseFlags) {
	if database.Embedded && d.dir == "" {
		fmt.Fprintln(os.Stderr, "evento: note: no DATABASE_URL, so this wrote to a throwaway database that is deleted on exit; set DATABASE_URL (e.g. to the URL a running `evento serve` printed) or use --db-dir")
	}
}

// Bounds that keep every counter far inside PostgreSQL's integer.
const (
	maxRooms           = 1_000_000_000 // per hotel
	maxRoomsPerRequest = 1000
)
