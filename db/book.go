package db

import (
	"context"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// book books reqs, all for one hotel, with the strategy on tx: first the
// client limits (limits.go) refuse the requests that would take their
// client over its limit; then each other request with the strategy's
// Book, or all of them at once with its BookBatch, which writes keys (the
// requests' idempotency keys, or nil) on their reservations; a shortfall
// frees overdue holds and books once more (shortfall.go). beforeWrite,
// when set, runs before each of the strategy's writes (--race-window,
// tests).
func book(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, strategy Strategy, reqs []evento.BookRequest, keys []*evento.IdempotencyKey, beforeWrite func(context.Context)) ([]evento.Outcome[evento.Booking], error) {
	refusals, err := checkClientLimits(ctx, q, tx, reqs)
	if err != nil {
		return nil, err
	}
	outcomes := make([]evento.Outcome[evento.Booking], len(reqs))
	var allowed []int
	for i := range reqs {
		if refusals != nil && refusals[i] != nil {
			// A refusal, not an error: the batch's other requests go on.
			outcomes[i] = evento.Refused[evento.Booking](refusals[i])
			continue
		}
		allowed = append(allowed, i)
	}
	if len(allowed) == 0 {
		return outcomes, nil
	}
	booked, err := bookAll(ctx, q, tx, strategy, pick(reqs, allowed), pick(keys, allowed), beforeWrite)
	if err != nil {
		return nil, err
	}
	for j, i := range allowed {
		outcomes[i] = booked[j]
	}
	return outcomes, nil
}

// bookAll books every one of reqs with the strategy, freeing overdue holds
// on a shortfall.
func bookAll(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, strategy Strategy, reqs []evento.BookRequest, keys []*evento.IdempotencyKey, beforeWrite func(context.Context)) ([]evento.Outcome[evento.Booking], error) {
	st := strategy.statements(tx, beforeWrite)
	return freeingOverdueHolds(ctx, q, tx, reqs[0], len(reqs), strategy.Buckets, func(todo []int) ([]evento.Outcome[evento.Booking], error) {
		if strategy.BookBatch != nil {
			return strategy.BookBatch(ctx, st, pick(reqs, todo), pick(keys, todo))
		}
		outcomes := make([]evento.Outcome[evento.Booking], len(todo))
		for j, i := range todo {
			var err error
			if outcomes[j], err = outcomeOf(strategy.Book(ctx, st, reqs[i])); err != nil {
				return nil, err
			}
		}
		return outcomes, nil
	})
}
