package db

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// A fast path is the write engine's one specialisation: a keyed booking
// (one request of atomic, sharded or optimistic, Strategy.BookKeyed; or a
// batch of batched, Strategy.BookBatchKeyed) first runs as ONE autocommit
// statement that claims its keys, books and records each booking under its
// key, or commits nothing (optimistic's after its read, which locks
// nothing, or from the row version its last swap returned); only when it
// committed nothing does the request take the general path (engine.go).
// reserve.go says why it is worth it and why it is safe.

// runFastPath runs book, a strategy's fast-path statements, on a
// connection of its own and outside any transaction. done is what book
// said: false when it committed nothing.
func runFastPath(ctx context.Context, pool *pgxpool.Pool, strategy Strategy, beforeWrite func(context.Context), book func(Statements) (done bool, err error)) (done bool, err error) {
	err = withConn(ctx, pool, func(conn *pgxpool.Conn) error {
		return runStatements(conn, func(tx dbsqlc.DBTX) error {
			done, err = book(strategy.statements(tx, beforeWrite))
			return err
		})
	})
	if err != nil {
		return false, classifyWrite(err)
	}
	return done, nil
}

// committedNothing says whether a fast-path statement's error undid the
// statement whole, so that the general path is its answer: a key a
// reservation holds already (the general path replays it, or forgets an
// expired one), or the choice as a deadlock's victim (the general path
// runs it again, with its reruns).
func committedNothing(err error) bool {
	return keyTaken(err) || isSerializationFailure(err)
}
