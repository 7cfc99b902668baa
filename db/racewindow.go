package db

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// raceWindow delays every booking write (the queries named *Book) by a fixed
// time. It exists for demonstrations and tests: stretching the gap between
// a strategy's read and its write makes each strategy's behaviour under
// contention show on every run (naive overbooks, pessimistic queues,
// optimistic conflicts) instead of only on busy machines. A strategy that
// has no read before its write (atomic) just gets slower.
type raceWindow struct {
	DBTX
	delay time.Duration
}

func (w raceWindow) wait(ctx context.Context, sql string) {
	if !isBookingWrite(sql) {
		return
	}
	timer := time.NewTimer(w.delay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

func isBookingWrite(sql string) bool {
	name, _, _ := strings.Cut(strings.TrimPrefix(sql, "-- name: "), " ")
	return strings.HasSuffix(name, "Book")
}

func (w raceWindow) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	w.wait(ctx, sql)
	return w.DBTX.Exec(ctx, sql, args...)
}

func (w raceWindow) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	w.wait(ctx, sql)
	return w.DBTX.Query(ctx, sql, args...)
}

func (w raceWindow) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	w.wait(ctx, sql)
	return w.DBTX.QueryRow(ctx, sql, args...)
}
