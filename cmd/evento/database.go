package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/localpg"
)

// databaseFlags are shared by every subcommand that needs a database.
type databaseFlags struct {
	url      string
	embedded bool
	dir      string
	// smallDisk: the run fills the disk (--faults disk-full), so a
	// throwaway cluster keeps its data on a small one.
	smallDisk bool
	// ha and durability: a replicated pair under Patroni (run, compare).
	ha         bool
	durability string
}

// smallDiskSize is the tmpfs a --faults disk-full cluster's data lives on:
// a fresh cluster takes about 40 MB, a run's rows a few more.
const smallDiskSize = 128 << 20

func (d *databaseFlags) register(fs *flag.FlagSet) {
	databaseURLVar(fs, &d.url, "PostgreSQL URL (env DATABASE_URL); unset: "+localpg.DefaultURL+" if it lets us in, else a throwaway server")
	fs.BoolVar(&d.embedded, "embedded", false, "always start a throwaway PostgreSQL, even when a server is reachable")
	fs.StringVar(&d.dir, "db-dir", "", "keep the throwaway PostgreSQL's data in this directory between runs")
}

// registerHA adds --ha and --durability, for the commands that run the
// lab (run, compare).
func (d *databaseFlags) registerHA(fs *flag.FlagSet) {
	fs.BoolVar(&d.ha, "ha", false, "start a throwaway replicated PostgreSQL pair under Patroni (etcd, a primary and a standby) instead of one server; the servers follow the primary by themselves (needs patroni and etcd-server)")
	fs.StringVar(&d.durability, "durability", "", "with --ha: replication mode, "+strings.Join(localpg.Durabilities, ", ")+" (default async: may lose acknowledged commits on failover; remote_write: waits for a healthy standby to receive, not flush, each commit; sync: waits for a healthy standby to flush it; strict: never acknowledges what the standby lacks, blocks writes while it is down)")
}

// validateHA checks --ha and --durability against the other flags.
func (d *databaseFlags) validateHA(pgbouncer bool) error {
	if !d.ha {
		if d.durability != "" {
			return usagef("--durability applies with --ha only")
		}
		return nil
	}
	if d.durability == "" {
		d.durability = localpg.Async
	}
	switch {
	case !slices.Contains(localpg.Durabilities, d.durability):
		return usagef("--durability must be one of %s, got %q", strings.Join(localpg.Durabilities, ", "), d.durability)
	case d.url != "":
		return usagef("--ha starts its own PostgreSQL pair; it cannot use --database-url or DATABASE_URL (unset it)")
	case d.dir != "":
		return usagef("--ha starts a throwaway PostgreSQL pair; it keeps no --db-dir")
	case pgbouncer:
		return usagef("--ha and --pgbouncer: PgBouncer points at one server and would not follow the primary; drop one")
	}
	if _, _, err := localpg.FindHA(); err != nil {
		return usagef("--ha: %v", err)
	}
	return nil
}

// databaseURLVar registers --database-url, defaulting to $DATABASE_URL,
// and --database-url-file, which replaces it. --help prints the default,
// and a terminal, a CI log or a bug report is no place for the database's
// password: it shows redacted.
func databaseURLVar(fs *flag.FlagSet, p *string, usage string) {
	*p = os.Getenv("DATABASE_URL")
	fs.Var(&secretURL{p}, "database-url", usage)
	secretFileVar(fs, p, "database-url", "the PostgreSQL URL")
}

// secretURL is a flag whose printed value hides a password.
type secretURL struct{ value *string }

func (s *secretURL) String() string {
	if s.value == nil {
		return ""
	}
	return redactURL(*s.value)
}

func (s *secretURL) Set(v string) error {
	*s.value = v
	return nil
}

// redactURL hides the password of a PostgreSQL URL (user info, or a
// password or sslpassword query parameter) or key=value connection string,
// for anything a person may read.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return redactBroken(raw)
	}
	q := u.Query()
	for _, name := range []string{"password", "sslpassword"} {
		if q.Has(name) { // re-encoded only then: Encode sorts the parameters
			q.Set(name, "xxxxx")
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// keyValuePassword is a password=... setting of a key=value connection
// string, quoted or not.
var keyValuePassword = regexp.MustCompile(`(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// redactBroken redacts what url.Parse refused: a key=value string, or a
// URL too broken to parse, whose user info is then hidden whole.
func redactBroken(raw string) string {
	raw = keyValuePassword.ReplaceAllString(raw, "${1}xxxxx")
	if scheme := strings.Index(raw, "://"); scheme >= 0 {
		if at := strings.LastIndex(raw, "@"); at > scheme {
			return raw[:scheme+3] + "xxxxx" + raw[at:]
		}
	}
	return raw
}

// resolve finds or starts the database. maxConns sizes a throwaway server
// for the pools that will use it (it is the lab's cluster.Resolver). Durability stays on: figures from a
// server that does not fsync would flatter every strategy.
func (d *databaseFlags) resolve(ctx context.Context, maxConns int) (*localpg.Resolved, error) {
	opts := localpg.ResolveOptions{
		DatabaseURL: d.url,
		DefaultURL:  os.Getenv(testDefaultURLEnv),
		Embedded:    d.embedded,
		DBDir:       d.dir,
		Durable:     true,
		// Room for more servers than this command's own pools: other
		// `evento serve` processes may share a throwaway server.
		MaxConnections: max(maxConns, 200),
		Log:            os.Stderr,
	}
	if d.smallDisk {
		opts.SmallDisk = smallDiskSize
	}
	opts.HA, opts.Durability = d.ha, d.durability
	database, err := localpg.Resolve(ctx, opts)
	var refusal *localpg.RefusedError
	if errors.As(err, &refusal) && d.url != "" {
		return nil, &loginRefusedError{url: d.url, refusal: refusal}
	}
	return database, err
}

// testDefaultURLEnv is a test hook, not a setting: it replaces the URL
// tried when DATABASE_URL is unset (localhost:5432), so that the binary's
// tests can stand a server of theirs in for one a distribution installed,
// without binding port 5432.
const testDefaultURLEnv = "EVENTO_TEST_DEFAULT_DATABASE_URL"

// loginRefusedError is the user's own DATABASE_URL refused by the server
// it names: one line with the cause and both ways out, the URL redacted.
// pgx's own message runs to several hundred characters and says neither.
type loginRefusedError struct {
	url     string
	refusal *localpg.RefusedError
}

func (e *loginRefusedError) Error() string {
	return fmt.Sprintf("%s refused the login: %s; fix DATABASE_URL, or run with --embedded for a throwaway PostgreSQL", redactURL(e.url), e.refusal.Cause)
}

func (e *loginRefusedError) Unwrap() error { return e.refusal }

// Bounds that keep every counter far inside PostgreSQL's integer.
const (
	maxRooms           = 1_000_000_000 // per hotel
	maxServers         = 64            // server processes one lab starts
	maxPool            = 1000          // connections of one server
	maxHotels          = 10_000        // per event
	maxBuckets         = 1000          // per hotel
	maxEvents          = 1000          // per run
	maxRoomsPerRequest = 1000
)

// openMigratedDatabase resolves the database of a short command (seed,
// migrate, clients, explain), warns when it is a throwaway one that should
// have kept what the command wrote, opens a
// small pool and migrates; close releases both. With name set it works in
// the database called name of the same server (created if missing), for a
// command that needs one of its own (explain empties its tables); it also
// returns the URL it opened.
func openMigratedDatabase(ctx context.Context, d databaseFlags, name string) (pool *pgxpool.Pool, dbURL string, close func(), err error) {
	database, err := d.resolve(ctx, 5)
	if err != nil {
		return nil, "", nil, err
	}
	if database.Embedded && d.dir == "" && name == "" {
		// What a one-shot command wrote there is gone when it exits; a
		// command with a database of its own (explain) keeps nothing.
		fmt.Fprintln(os.Stderr, "evento: note: no DATABASE_URL, so this wrote to a throwaway database that is deleted on exit; set DATABASE_URL (e.g. to the URL a running `evento serve` printed) or use --db-dir")
	}
	dbURL = database.URL
	if name != "" {
		dbURL = withDatabase(dbURL, name)
		if err := localpg.EnsureDatabase(ctx, dbURL); err != nil {
			database.Close()
			return nil, "", nil, err
		}
	}
	pool, err = db.OpenPool(ctx, dbURL, 2)
	if err != nil {
		database.Close()
		return nil, "", nil, err
	}
	close = func() { pool.Close(); database.Close() }
	if err := db.Migrate(ctx, pool); err != nil {
		close()
		return nil, "", nil, err
	}
	return pool, dbURL, close, nil
}

// withDatabase points a PostgreSQL URL, or a key=value connection string,
// at another database of the same server.
func withDatabase(raw, name string) string {
	if u, err := url.Parse(raw); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	// In a key=value string the last setting of a key wins.
	return raw + " dbname=" + name
}
