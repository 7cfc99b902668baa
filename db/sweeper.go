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

// DefaultKeepHolds is how long a released or expired hold is kept unless
// the server says otherwise: long enough for its client to ask what became
// of it, and longer than any cooldown it starts.
const DefaultKeepHolds = 24 * time.Hour

// Sweeper expires overdue holds, and deletes finished holds and
// idempotency keys past their retention (a booking's key is cleared from
// its reservation, which stays). Every server runs one: the
// statements are safe to run concurrently (SKIP LOCKED, re-checked state),
// so no leader is needed.
type Sweeper struct {
	Store    *Store
	Interval time.Duration
	// KeepHolds is how long a released or expired hold is kept
	// (0: DefaultKeepHolds).
	KeepHolds time.Duration
	Log       *slog.Logger
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

// SweepOnce expires every overdue hold, and deletes every finished hold
// and expired key past its retention, in batches.
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
	keep := s.KeepHolds
	if keep <= 0 {
		keep = DefaultKeepHolds
	}
	for {
		n, err := q.SweepFinishedHolds(ctx, pool, dbsqlc.SweepFinishedHoldsParams{KeepSeconds: keep.Seconds(), BatchSize: sweepBatch})
		if err != nil {
			return fmt.Errorf("delete finished holds: %w", classify(err))
		}
		if n < sweepBatch {
			break
		}
	}
	for _, sweep := range []func(context.Context, dbsqlc.DBTX, int32) (int64, error){
		q.SweepIdempotencyKeys, q.SweepReservationKeys,
	} {
		for {
			n, err := sweep(ctx, pool, sweepBatch)
			if err != nil {
				return fmt.Errorf("forget idempotency keys: %w", classify(err))
			}
			if n < sweepBatch {
				break
			}
		}
	}
	return nil
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
