// Package cluster runs what a lab experiment needs around the clients: the
// database (found or started through db/localpg, migrated), several real
// `evento serve` processes sharing it (started, health-checked, stopped,
// their stderr kept for errors), and the measurements taken of them from
// outside: their /metrics and this process's peak memory. Fault injection
// (killing servers, crashing PostgreSQL) belongs here too.
package cluster

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/localpg"
)

// Resolver finds or starts the database, sized for maxConns connections
// (the servers' pools and the lab's own).
type Resolver func(ctx context.Context, maxConns int) (*localpg.Resolved, error)

// Options says what to start.
type Options struct {
	Database   Resolver
	Executable string   // the evento binary the servers run
	Servers    int      // server processes
	Pool       int      // database connections of each server
	ExtraConns int      // connections others will open (pgbench's clients)
	ServerArgs []string // extra flags for `evento serve`
}

// Cluster is one database and its running server processes, ready for any
// number of experiments.
type Cluster struct {
	Database *localpg.Resolved
	Pool     *pgxpool.Pool // the lab's own connections: seeding and reading records
	Servers  []*ServerProcess
	URLs     []string // the servers' base URLs
}

// Open resolves and migrates the database and starts the servers. On error
// it has undone whatever it got to.
func Open(ctx context.Context, opts Options) (*Cluster, error) {
	c := &Cluster{}
	if err := c.open(ctx, opts); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// open fills c step by step; Close undoes whatever it got to.
func (c *Cluster) open(ctx context.Context, opts Options) (err error) {
	if c.Database, err = opts.Database(ctx, opts.Servers*opts.Pool+20+opts.ExtraConns); err != nil {
		return err
	}
	if c.Pool, err = db.OpenPool(ctx, c.Database.URL, 4); err != nil {
		return err
	}
	if err := db.Migrate(ctx, c.Pool); err != nil {
		return err
	}
	if opts.Executable == "" {
		return fmt.Errorf("no evento binary to start servers with")
	}
	c.Servers, err = StartServers(ctx, ServerSpec{
		Executable:  opts.Executable,
		DatabaseURL: c.Database.URL,
		Args:        opts.ServerArgs,
	}, opts.Servers)
	if err != nil {
		return err
	}
	for _, s := range c.Servers {
		c.URLs = append(c.URLs, s.URL)
	}
	return nil
}

// Close stops the servers, then the database; it reports how the servers
// ended.
func (c *Cluster) Close() error {
	err := StopServers(c.Servers)
	if c.Pool != nil {
		c.Pool.Close()
	}
	if c.Database != nil {
		c.Database.Close()
	}
	return err
}
