package localpg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func hasCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// EnsureDatabase creates the database named in url if it does not exist,
// connecting to the server's maintenance database to do so. It is safe for
// several processes to race: losing the race counts as success.
func EnsureDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	if !hasCode(err, pgerrcode.InvalidCatalogName) {
		return fmt.Errorf("connect to database %q: %w", cfg.Database, err)
	}
	return createDatabase(ctx, cfg)
}

func createDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	var lastErr error
	// template1 always exists; postgres is merely conventional.
	for _, maintenance := range []string{"postgres", "template1"} {
		mcfg := cfg.Copy()
		mcfg.Database = maintenance
		conn, err := pgx.ConnectConfig(ctx, mcfg)
		if hasCode(err, pgerrcode.InvalidCatalogName) {
			lastErr = err
			continue
		}
		if err != nil {
			return fmt.Errorf("connect to maintenance database %q: %w", maintenance, err)
		}
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
		_ = conn.Close(ctx)
		// Two concurrent CREATE DATABASE can also collide on the catalog's
		// unique index instead of the friendlier duplicate_database check.
		if err == nil || hasCode(err, pgerrcode.DuplicateDatabase) || hasCode(err, pgerrcode.UniqueViolation) {
			return nil
		}
		return fmt.Errorf("create database %q: %w", cfg.Database, err)
	}
	return fmt.Errorf("create database %q: no maintenance database: %w", cfg.Database, lastErr)
}
