// Package cluster runs what a lab experiment needs around the clients: the
// database (found or started through db/localpg, migrated), several real
// `evento serve` processes sharing it (started, health-checked, stopped,
// their stderr kept for errors), and the measurements taken of them from
// outside: their /metrics and this process's peak memory. Fault injection
// (killing servers, crashing PostgreSQL) belongs here too.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/lab/faultproxy"
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
	// ProxyDatabase puts a fault proxy between the servers and PostgreSQL,
	// so that LoseReplies can cut their connections (the lab's own pool
	// connects directly).
	ProxyDatabase bool
	// PgBouncer puts a throwaway PgBouncer in transaction pooling mode
	// between the servers and PostgreSQL, with PgBouncerPool server
	// connections (0: 20); the servers migrate over a direct connection,
	// and the lab's own pool connects directly.
	PgBouncer     bool
	PgBouncerPool int
	// PgBouncerWait is PgBouncer's query_wait_timeout: set it below the
	// servers' --query-timeout (localpg.PgBouncerOptions.QueryWaitTimeout).
	PgBouncerWait time.Duration
}

// LabPoolConns is the most direct connections the lab's own pool opens
// (seeding, reading records, sampling pg_stat_activity); they show in
// pg_stat_activity as LabApplicationName.
const LabPoolConns = 4

// LabApplicationName names the lab's own sessions in pg_stat_activity.
const LabApplicationName = "evento-lab"

// Cluster is one database and its running server processes, ready for any
// number of experiments.
type Cluster struct {
	Database *localpg.Resolved
	Pool     *pgxpool.Pool // the lab's own connections: seeding and reading records
	URLs     []string      // the servers' base URLs; a restarted server keeps its URL

	spec      ServerSpec
	pgbouncer *localpg.PgBouncer // nil unless Options.PgBouncer
	proxy     *faultproxy.Proxy  // nil unless Options.ProxyDatabase
	mu        sync.Mutex         // guards servers, which the nemesis replaces
	servers   []*ServerProcess
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
	if c.Pool, err = db.OpenPoolWith(ctx, c.Database.URL, db.PoolOptions{MaxConns: LabPoolConns, ApplicationName: LabApplicationName}); err != nil {
		return err
	}
	if err := db.Migrate(ctx, c.Pool); err != nil {
		return err
	}
	if opts.Executable == "" {
		return fmt.Errorf("no evento binary to start servers with")
	}
	serversURL := c.Database.URL
	c.spec = ServerSpec{Executable: opts.Executable, Args: opts.ServerArgs, Procs: ServerProcs(opts.Servers)}
	if opts.PgBouncer {
		c.pgbouncer, err = localpg.StartPgBouncer(ctx, localpg.PgBouncerOptions{
			Upstream: c.Database.URL, PoolSize: opts.PgBouncerPool, QueryWaitTimeout: opts.PgBouncerWait,
			// Every server's whole pool, and room for a restarted one.
			MaxClientConn: (opts.Servers+1)*opts.Pool + 100,
		})
		if err != nil {
			return err
		}
		serversURL, c.spec.MigrateURL = c.pgbouncer.URL(), c.Database.URL
		c.spec.Args = append(slices.Clip(c.spec.Args), "--transaction-pooled")
	}
	if opts.ProxyDatabase {
		if c.proxy, serversURL, err = faultproxy.StartFor(serversURL); err != nil {
			return err
		}
	}
	c.spec.DatabaseURL = serversURL
	c.servers, err = StartServers(ctx, c.spec, opts.Servers)
	if err != nil {
		return err
	}
	for _, s := range c.servers {
		c.URLs = append(c.URLs, s.URL)
	}
	return nil
}

// PgBouncerPoolSize is the most server connections the lab's PgBouncer
// opens; 0 without one.
func (c *Cluster) PgBouncerPoolSize() int {
	if c.pgbouncer == nil {
		return 0
	}
	return c.pgbouncer.PoolSize()
}

// AdminURLs are the servers' admin base URLs, where their /metrics are. A
// restarted server keeps its URL but gets a new admin URL.
func (c *Cluster) AdminURLs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	urls := make([]string, len(c.servers))
	for i, s := range c.servers {
		urls[i] = s.AdminURL
	}
	return urls
}

// ServerPIDs are the server processes' ids, to read their CPU from outside.
func (c *Cluster) ServerPIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	pids := make([]int, len(c.servers))
	for i, s := range c.servers {
		pids[i] = s.cmd.Process.Pid
	}
	return pids
}

// Servers is how many server processes the cluster runs.
func (c *Cluster) Servers() int { return len(c.URLs) }

// KillServer kills server i at once (SIGKILL).
func (c *Cluster) KillServer(i int) {
	c.mu.Lock()
	s := c.servers[i]
	c.mu.Unlock()
	s.Kill()
}

// RestartServer starts server i again on its own port, after a kill, and
// waits until it is healthy.
func (c *Cluster) RestartServer(ctx context.Context, i int) error {
	addr := strings.TrimPrefix(c.URLs[i], "http://")
	s, err := startServerAt(ctx, c.spec, addr)
	if err == nil {
		err = s.waitHealthy(ctx)
	}
	if err != nil {
		if s != nil {
			s.Kill()
		}
		return fmt.Errorf("restart server %d on %s: %w", i+1, addr, err)
	}
	c.mu.Lock()
	c.servers[i] = s
	c.mu.Unlock()
	return nil
}

// PauseServer freezes server i (SIGSTOP) until ResumeServer.
func (c *Cluster) PauseServer(i int) error {
	c.mu.Lock()
	s := c.servers[i]
	c.mu.Unlock()
	return s.Pause()
}

// ResumeServer lets server i go on (SIGCONT) and waits until it answers
// /healthz again: a fault is healed only when the server serves.
func (c *Cluster) ResumeServer(ctx context.Context, i int) error {
	c.mu.Lock()
	s := c.servers[i]
	c.mu.Unlock()
	if err := s.Resume(); err != nil {
		return err
	}
	if err := s.waitHealthy(ctx); err != nil {
		return fmt.Errorf("resume server %d (%s): %w", i+1, s.URL, err)
	}
	return nil
}

// Healthy waits until every server answers /healthz, or ctx ends.
func (c *Cluster) Healthy(ctx context.Context) error {
	c.mu.Lock()
	servers := slices.Clone(c.servers)
	c.mu.Unlock()
	for _, s := range servers {
		if err := s.waitHealthy(ctx); err != nil {
			return fmt.Errorf("server %s: %w", s.URL, err)
		}
	}
	return nil
}

// LoseReplies cuts, for the length of window, every server connection that
// sends a message that commits (a COMMIT, or the Sync that commits an
// autocommit statement: faultproxy.Commits), right after PostgreSQL has
// it: the writes commit, the servers never hear so. It returns how many
// replies were lost.
func (c *Cluster) LoseReplies(ctx context.Context, window time.Duration) (int, error) {
	if c.proxy == nil {
		return 0, errors.New("lose replies: the servers do not reach the database through the fault proxy")
	}
	before := c.proxy.Dropped()
	deadline := time.Now().Add(window)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c.proxy.LoseReplyTo(faultproxy.Commits())
		for armed := c.proxy.Dropped(); c.proxy.Dropped() == armed && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	c.proxy.LoseReplyTo(nil)
	return c.proxy.Dropped() - before, nil
}

// ErrNotOurDatabase refuses a database fault on a PostgreSQL the lab did
// not start: it never restarts, crashes or pauses someone else's server.
var ErrNotOurDatabase = errors.New("the lab can restart, crash or pause only a PostgreSQL it started itself (--embedded or --db-dir), not one named by DATABASE_URL")

// OwnsDatabase reports whether the lab started the database, and so may
// break it.
func (c *Cluster) OwnsDatabase() bool { return c.Database != nil && c.Database.Server != nil }

// RestartDatabase restarts PostgreSQL, fast or (crash) immediately.
func (c *Cluster) RestartDatabase(ctx context.Context, crash bool) error {
	if !c.OwnsDatabase() {
		return ErrNotOurDatabase
	}
	return c.Database.Server.Restart(ctx, crash)
}

// PauseDatabase freezes PostgreSQL until ResumeDatabase.
func (c *Cluster) PauseDatabase() error {
	if !c.OwnsDatabase() {
		return ErrNotOurDatabase
	}
	return c.Database.Server.Pause()
}

// ResumeDatabase lets a paused PostgreSQL go on.
func (c *Cluster) ResumeDatabase() error {
	if !c.OwnsDatabase() {
		return ErrNotOurDatabase
	}
	return c.Database.Server.Resume()
}

// FillDisk fills the disk under PostgreSQL's data, until FreeDisk: the
// database must have been started with a small disk (localpg
// Options.SmallDisk).
func (c *Cluster) FillDisk() error {
	if !c.OwnsDatabase() {
		return ErrNotOurDatabase
	}
	return c.Database.Server.FillDisk()
}

// FreeDisk undoes FillDisk.
func (c *Cluster) FreeDisk() error {
	if !c.OwnsDatabase() {
		return ErrNotOurDatabase
	}
	return c.Database.Server.FreeDisk()
}

// ErrNoPair refuses a failover fault on a run without a replicated pair.
var ErrNoPair = errors.New("failover and switchover need a replicated PostgreSQL pair the lab started (--ha)")

// Failover kills the pair's primary; Patroni promotes the standby and
// the old primary rejoins. It says who took over and how long no primary
// ran.
func (c *Cluster) Failover(ctx context.Context) (string, error) {
	if c.Database == nil || c.Database.HA == nil {
		return "", ErrNoPair
	}
	old, new, down, err := c.Database.HA.Failover(ctx)
	return fmt.Sprintf("%s → %s, %.1f s without a primary", old, new, down.Seconds()), err
}

// LagThenFailover lets the standby fall behind for lag, then kills the
// primary.
func (c *Cluster) LagThenFailover(ctx context.Context, lag time.Duration) (string, error) {
	if c.Database == nil || c.Database.HA == nil {
		return "", ErrNoPair
	}
	old, new, down, err := c.Database.HA.LagThenFailover(ctx, lag)
	return fmt.Sprintf("standby %.1f s behind, then %s → %s, %.1f s without a primary", lag.Seconds(), old, new, down.Seconds()), err
}

// primaryPause outlasts the leader key (6 s) by a few seconds; the
// primary stays frozen past it until the standby is promoted
// (localpg's PausePrimary says why).
const primaryPause = 9 * time.Second

// PausePrimary freezes the pair's primary past the leader key's life.
func (c *Cluster) PausePrimary(ctx context.Context) (string, error) {
	if c.Database == nil || c.Database.HA == nil {
		return "", ErrNoPair
	}
	old, new, frozen, err := c.Database.HA.PausePrimary(ctx, primaryPause)
	return fmt.Sprintf("%s frozen %.1f s, %s primary after", old, frozen.Seconds(), new), err
}

// StallStandby freezes the pair's standby for d.
func (c *Cluster) StallStandby(ctx context.Context, d time.Duration) (string, error) {
	if c.Database == nil || c.Database.HA == nil {
		return "", ErrNoPair
	}
	standby, err := c.Database.HA.StallStandby(ctx, d)
	return fmt.Sprintf("%s frozen %.1f s", standby, d.Seconds()), err
}

// Switchover hands the primary's role to the standby through Patroni.
func (c *Cluster) Switchover(ctx context.Context) (string, error) {
	if c.Database == nil || c.Database.HA == nil {
		return "", ErrNoPair
	}
	old, err := c.Database.HA.Primary(ctx)
	if err != nil {
		return "", err
	}
	new, err := c.Database.HA.Switchover(ctx)
	return old + " → " + new, err
}

// TerminateBackends ends every other session of the servers' database
// (pg_terminate_backend), as an operator or a failover would: their
// transactions roll back, their next statement finds the connection gone.
func (c *Cluster) TerminateBackends(ctx context.Context) (int, error) {
	var n int
	// The servers' sessions only: the lab's own (its seeding, its final
	// reads, the backend sampler) would otherwise die too, and a dead one
	// handed out again by the pool fails the next fault or the verdict.
	err := c.Pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		  FROM pg_stat_activity
		 WHERE datname = current_database() AND backend_type = 'client backend'
		   AND application_name IS DISTINCT FROM $1`, LabApplicationName).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("terminate backends: %w", err)
	}
	return n, nil
}

// Close stops the servers, then the database; it reports how the servers ended.
func (c *Cluster) Close() error {
	c.mu.Lock()
	servers := c.servers
	c.mu.Unlock()
	err := StopServers(servers)
	if c.proxy != nil {
		_ = c.proxy.Close()
	}
	if c.pgbouncer != nil {
		_ = c.pgbouncer.Stop()
	}
	if c.Pool != nil {
		c.Pool.Close()
	}
	if c.Database != nil {
		c.Database.Close()
	}
	return err
}
