package db

import (
	"context"
	"fmt"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
	"log/slog"
	"time"
)

// sweepBatch bounds one sweep statement, so a backlog is worked off in
// short transactions instead of one long one.
const sweepBatch = 1000

// Sweeper expires overdue holds and forgets idempotency keys past their
// retention. Every server runs one: the statements are safe to run
// concurrently (SKIP LOCKED, re-checked state), so no leader is needed.
type Sweeper struct {
	Store    *Store
	Interval time.Duration
	Log      *slog.Logger
}

// Run sweeps every Interval until ctx ends.
func (s Sweeper) Run(ctx context.Context) {
	ticker := time.NewTicker(s.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if err := s.SweepOnce(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("sweep", "err", err)
		}
	}
}

// SweepOnce expires every overdue hold and expired key, in batches.
func (s Sweeper) SweepOnce(ctx context.Context) error {
	q, pool := s.Store.q, s.Store.pool
	for {
		n, err := sweepExpiredHolds(ctx, q, pool, sweepBatch)
		if err != nil {
			return err
		}
		if n > 0 {
			s.Log.Debug("expired holds", "holds", n)
		}
		if n < sweepBatch {
			break
		}
	}
	for {
		n, err := q.SweepIdempotencyKeys(ctx, pool, sweepBatch)
		if err != nil {
			return err
		}
		if n < sweepBatch {
			return nil
		}
	}
}

// sweepExpiredHolds expires up to batch overdue holds across all hotels and
// returns how many it expired. Safe to run from every server at once.
func sweepExpiredHolds(ctx context.Context, q *dbsqlc.Queries, pool dbsqlc.DBTX, batch int32) (int64, error) {
	rows, err := q.SweepExpiredHolds(ctx, pool, batch)
	if err != nil {
		return 0, fmt.Errorf("sweep expired holds: %w", classify(err))
	}
	var holds int64
	for _, r := range rows {
		holds += r.Holds
	}
	return holds, nil
}
