package db

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// isSerializationFailure reports PostgreSQL's "run it again" answers: the
// transaction was rolled back because it could not be serialized with a
// concurrent one, or was picked as a deadlock victim.
func isSerializationFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) &&
		(pgErr.Code == pgerrcode.SerializationFailure || pgErr.Code == pgerrcode.DeadlockDetected)
}

// retrySerializationFailures runs attempt up to attempts times while it
// fails with a serialization failure, sleeping a jittered, growing backoff
// in between so that the transactions that collided do not collide again
// in lockstep. onRetry, when set, is told about each retry.
func retrySerializationFailures(ctx context.Context, attempts int, onRetry func(), attempt func() error) error {
	for n := 1; ; n++ {
		err := attempt()
		if err == nil || n >= attempts || !isSerializationFailure(err) {
			return err
		}
		if onRetry != nil {
			onRetry()
		}
		ceiling := min(time.Millisecond<<min(n, 6), 50*time.Millisecond)
		timer := time.NewTimer(time.Duration(rand.Int64N(int64(ceiling))) + time.Millisecond)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return err
		}
	}
}
