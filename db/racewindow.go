package db

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// hookedTx calls before ahead of every statement sent through it: a
// strategy's Statements.Write, when writes are to be delayed or paused, or
// a connection whose statements are counted (runStatements).
type hookedTx struct {
	dbsqlc.DBTX
	before func(context.Context)
}

func (h hookedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	h.before(ctx)
	return h.DBTX.Exec(ctx, sql, args...)
}

func (h hookedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	h.before(ctx)
	return h.DBTX.Query(ctx, sql, args...)
}

func (h hookedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	h.before(ctx)
	return h.DBTX.QueryRow(ctx, sql, args...)
}

// raceWindow delays every booking write by d. It exists for demonstrations
// and tests: stretching the gap between a strategy's read and its write
// makes each strategy's behaviour under contention show on every run
// (naive overbooks, pessimistic queues, optimistic conflicts) instead of
// only on busy machines. A strategy with no read before its write (atomic,
// batched) just gets slower.
func raceWindow(d time.Duration) func(context.Context) {
	if d <= 0 {
		return nil
	}
	return func(ctx context.Context) {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
	}
}
