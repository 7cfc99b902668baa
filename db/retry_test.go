package db

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestRetrySerializationFailuresIsBounded(t *testing.T) {
	t.Parallel()
	serialization := &pgconn.PgError{Code: pgerrcode.SerializationFailure}
	calls, retries := 0, 0
	err := retrySerializationFailures(context.Background(), 5, func() { retries++ }, func() error {
		calls++
		if calls < 3 {
			return serialization
		}
		return nil
	})
	if err != nil || calls != 3 || retries != 2 {
		t.Fatalf("err %v, %d calls, %d retries; want success on the 3rd call", err, calls, retries)
	}

	calls = 0
	err = retrySerializationFailures(context.Background(), 4, nil, func() error { calls++; return serialization })
	if !errors.Is(err, serialization) || calls != 4 {
		t.Fatalf("err %v after %d calls; want the failure after exactly 4", err, calls)
	}

	calls = 0
	other := errors.New("not retryable")
	if err := retrySerializationFailures(context.Background(), 4, nil, func() error { calls++; return other }); err != other || calls != 1 {
		t.Fatalf("a non-serialization error was retried: %v, %d calls", err, calls)
	}
}
