// Package dbtest gives tests a real PostgreSQL: the server in DATABASE_URL
// when it is set, otherwise a throwaway one started for the test binary.
// Each test gets its own database, cloned from a migrated template by
// pgtestdb, so tests can run in parallel and never see each other's rows.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver pgtestdb uses
	"github.com/peterldowns/pgtestdb"
	"github.com/peterldowns/pgtestdb/migrators/common"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/localpg"
	migrations "github.com/evento-lab/evento/sql"
)

// serverURL is the server tests create their databases on; Main sets it.
var serverURL string

// Main runs a package's tests against a real server. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if env := os.Getenv("DATABASE_URL"); env != "" {
		serverURL = env
		if err := localpg.EnsureDatabase(ctx, env); err != nil {
			fmt.Fprintf(os.Stderr, "dbtest: %v\n", err)
			return 1
		}
		return m.Run()
	}
	// Tests trade durability for speed: a crash only loses test data.
	server, err := localpg.Start(ctx, localpg.Options{Durable: false, MaxConnections: 400, Log: os.Stderr})
	if err != nil {
		fmt.Fprintf(os.Stderr, "dbtest: %v\n", err)
		return 1
	}
	defer server.Stop()
	serverURL = server.URL("postgres")
	return m.Run()
}

// ServerURL returns the URL of the server's maintenance database, for tests
// that create databases of their own.
func ServerURL(t testing.TB) string {
	t.Helper()
	if serverURL == "" {
		t.Fatal("dbtest: no server; call dbtest.Main from TestMain")
	}
	return serverURL
}

// NewURL creates a fresh, migrated database for t and returns its URL. The
// database is dropped when t ends, unless t failed (then its URL is logged
// for a look).
func NewURL(t testing.TB) string {
	t.Helper()
	parsed, err := pgx.ParseConfig(ServerURL(t))
	if err != nil {
		t.Fatalf("dbtest: parse server URL: %v", err)
	}
	opts := url.Values{"sslmode": {"disable"}}
	conf := pgtestdb.Config{
		DriverName:                "pgx",
		Host:                      parsed.Host,
		Port:                      strconv.Itoa(int(parsed.Port)),
		User:                      parsed.User,
		Password:                  parsed.Password,
		Database:                  parsed.Database,
		Options:                   opts.Encode(),
		ForceTerminateConnections: true,
	}
	return pgtestdb.Custom(t, conf, migrator{}).URL()
}

// NewPool returns a pool of maxConns connections on a fresh, migrated
// database, closed when t ends.
func NewPool(t testing.TB, maxConns int32) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := db.OpenPool(ctx, NewURL(t), maxConns)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// migrator builds pgtestdb's template with Evento's own migration code, so
// tests run the same goose path as evento serve.
type migrator struct{}

func (migrator) Hash() (string, error) {
	return common.HashDirs(migrations.Migrations, "*.sql", ".")
}

func (migrator) Migrate(ctx context.Context, sqlDB *sql.DB, _ pgtestdb.Config) error {
	return db.MigrateDB(ctx, sqlDB)
}

// NeedHA skips a test on a machine without Patroni and etcd, except on CI
// (CI=true), which installs them (.ci/run). db/localpg's own tests keep a
// copy: this package imports localpg.
func NeedHA(t testing.TB) {
	t.Helper()
	if _, _, err := localpg.FindHA(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v, and CI=true: .ci/run installs them", err)
		}
		t.Skipf("skipping: %v", err)
	}
}
