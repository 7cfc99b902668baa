package db

import (
	"context"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// book books reqs, all for one hotel, with the strategy on tx: each with
// its Book, or all at once with its BookBatch; a shortfall frees overdue
// holds and books once more (shortfall.go). beforeWrite, when set, runs
// before each of the strategy's writes (--race-window, tests).
func book(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, strategy Strategy, reqs []evento.BookRequest, beforeWrite func(context.Context)) ([]evento.Outcome[evento.Booking], error) {
	st := statementsOn(tx, beforeWrite)
	return freeingOverdueHolds(ctx, q, tx, reqs[0], len(reqs), strategy.Buckets, func(todo []int) ([]evento.Outcome[evento.Booking], error) {
		if strategy.BookBatch != nil {
			return strategy.BookBatch(ctx, st, pick(reqs, todo))
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
