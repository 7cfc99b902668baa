package db

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolOptions configures OpenPoolWith.
type PoolOptions struct {
	// MaxConns is the most connections the pool opens; 0 keeps pgx's
	// default.
	MaxConns int32
	// TransactionPooled says the URL reaches PostgreSQL through a
	// transaction-pooling PgBouncer (pool_mode = transaction, 1.18 or
	// later): consecutive transactions of one pgx connection may run on
	// different server sessions. See OpenPoolWith.
	TransactionPooled bool
	// ApplicationName, when set, names the pool's sessions in
	// pg_stat_activity, so that they can be told from others.
	ApplicationName string
	// QueryTimeout, when positive, is the longest a request may spend in
	// the database (serve --query-timeout). PostgreSQL is then told to end
	// what a session holds a second past it: a statement
	// (statement_timeout), a wait for a lock (lock_timeout) and a
	// transaction left idle (idle_in_transaction_session_timeout). A
	// healthy server never gets there, since its requests give up at
	// QueryTimeout; a server frozen mid-transaction (stopped, paused by
	// the OS, cut off) would otherwise hold a hotel's row lock, and stall
	// every other server's bookings of that hotel, for as long as it is
	// frozen. Ignored through a transaction pooler, which refuses these
	// at login: PgBouncer's own query_timeout and idle_transaction_timeout
	// bound it there.
	QueryTimeout time.Duration
}

// DefaultServerPool is the connections one server opens unless told
// otherwise: pgx's own default on a machine of up to 4 cores. A backend
// is dear to open: PostgreSQL forks it, and it fills its catalog caches
// and prepares every statement again, about 13 ms of the database's CPU
// each on the 2-core machine (200 clients on 3 hot hotels: 0.90 s of
// PostgreSQL CPU per sale with 20 connections a server, 0.43 s with 4).
// And more connections than the database has cores only queue inside it:
// the servers' hot-row admission lets one booking per hotel in at a time,
// and a request waiting for a pooled connection waits in Go, cheaply.
// See docs/performance.md, "A smaller pool".
const DefaultServerPool = 4

// OpenPool connects a pool of at most maxConns connections (0 keeps pgx's
// default) straight to PostgreSQL and checks that the database answers.
func OpenPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	return OpenPoolWith(ctx, url, PoolOptions{MaxConns: maxConns})
}

// OpenPoolWith connects a pool and checks that the database answers.
//
// Through a transaction pooler only transaction-scoped state survives
// (every strategy, hold and key keeps to it: xact advisory locks, local
// set_config), and two session-level habits of pgx must go:
//   - named prepared statements (pgx's default cache_statement mode): a
//     statement prepared on one server session is unknown on the next, and
//     PgBouncer 1.18 does not track them. The pool uses
//     QueryExecModeCacheDescribe instead: pgx learns each statement's
//     parameter and result types once per connection, through the unnamed
//     statement, caches them on the client, and sends every execution as
//     one self-contained Parse/Bind/Execute, so it needs nothing a server
//     session kept. Not QueryExecModeExec: it guesses the types from the
//     Go values, and sends a [][]byte (the idempotency outcomes, jsonb[])
//     as bytea text, which PostgreSQL refuses ("invalid input syntax for
//     type json"). A URL that names a default_query_exec_mode keeps it.
//   - startup parameters: PgBouncer 1.18 refuses default_transaction_isolation
//     at login ("unsupported startup parameter"), so instead of setting it
//     the pool checks that the server's default is READ COMMITTED, and
//     refuses to start otherwise.
func OpenPoolWith(ctx context.Context, url string, o PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	cfg.ConnConfig.OnNotice = keepWarnings
	if o.ApplicationName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = o.ApplicationName
	}
	if o.TransactionPooled {
		if cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement {
			cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
		}
	} else {
		// The strategies' safety arguments are made for READ COMMITTED (see
		// queries/); a server or role configured otherwise must not change them.
		cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
		// Every statement is planned once per session, when pgx prepares
		// it. PostgreSQL's default plans a statement afresh for its first
		// five runs, and then whenever the generic plan looks dearer than
		// the runs' own: a key's claim (LockIdempotencyKeys) unnests an
		// array PostgreSQL guesses holds ten keys, where it holds one, so
		// it was planned on every call (144 µs of its 171). And pgx drops
		// a prepared statement whenever one of its runs fails (a
		// serialization failure among them), so under contention the
		// first five runs came again and again. Each statement of queries/
		// looks rows up by key or id, which a generic plan does as well.
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
		if o.QueryTimeout > 0 {
			bound := strconv.FormatInt((o.QueryTimeout + time.Second).Milliseconds(), 10)
			for _, setting := range []string{"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"} {
				cfg.ConnConfig.RuntimeParams[setting] = bound
			}
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if o.TransactionPooled {
		if err := checkReadCommitted(ctx, pool); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return pool, nil
}

// checkReadCommitted refuses a server whose default isolation is not READ
// COMMITTED: atomic's and optimistic's single statements run in implicit
// transactions at that default, and their safety arguments need READ
// COMMITTED's re-check of the latest row version.
func checkReadCommitted(ctx context.Context, pool *pgxpool.Pool) error {
	var level string
	if err := pool.QueryRow(ctx, "SHOW default_transaction_isolation").Scan(&level); err != nil {
		return fmt.Errorf("read default_transaction_isolation: %w", err)
	}
	if level != "read committed" {
		return fmt.Errorf("the database's default_transaction_isolation is %q, and through a transaction pooler Evento cannot set it at login: make it 'read committed' (ALTER DATABASE ... SET default_transaction_isolation = 'read committed', or PgBouncer's connect_query)", level)
	}
	return nil
}
