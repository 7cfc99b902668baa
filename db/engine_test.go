package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evento-lab/evento"
)

func TestWriteRerunsSerializationFailuresBoundedly(t *testing.T) {
	t.Parallel()
	serialization := &pgconn.PgError{Code: pgerrcode.SerializationFailure}
	retries := 0
	e := &engine{onRetry: func(string) { retries++ }}
	run := func(attempts int, fail func(call int) error) (int, error) {
		calls := 0
		_, err := write(context.Background(), e, txPolicy{attempts: attempts}, nil, func(bool) result[struct{}] {
			calls++
			return result[struct{}]{err: fail(calls)}
		})
		return calls, err
	}

	calls, err := run(5, func(call int) error {
		if call < 3 {
			return serialization
		}
		return nil
	})
	if err != nil || calls != 3 || retries != 2 {
		t.Fatalf("err %v, %d calls, %d retries; want success on the 3rd call", err, calls, retries)
	}

	calls, err = run(4, func(int) error { return serialization })
	if !errors.Is(err, serialization) || calls != 4 {
		t.Fatalf("err %v after %d calls; want the failure after exactly 4", err, calls)
	}

	other := errors.New("not retryable")
	if calls, err := run(4, func(int) error { return other }); err != other || calls != 1 {
		t.Fatalf("a non-serialization error was retried: %v, %d calls", err, calls)
	}

	// A snapshot race is rerun at once, a bounded number of times.
	if calls, err := run(1, func(int) error { return errKeyRaced }); !errors.Is(err, errKeyRaced) || calls != keyRaceAttempts {
		t.Fatalf("err %v after %d calls; want the race after exactly %d", err, calls, keyRaceAttempts)
	}
	// A strategy's own conflict (optimistic's lost swap) wrote nothing
	// either: it is rerun the same way, as many times.
	if calls, err := run(4, func(int) error { return evento.ErrConflict }); !errors.Is(err, evento.ErrConflict) || calls != 4 {
		t.Fatalf("err %v after %d calls; want the conflict after exactly 4", err, calls)
	}
}

// An attempt is told that an earlier one raced on a key, and so is every
// attempt after it, reruns after a serialization failure included: under
// SERIALIZABLE a told attempt alone looks for the key among bookings, and
// one that does not would race on it again
// (TestSerializableReplayRerunAfterADeadlockStillLooksForItsKey). (After a
// busy key it is told too; that case waits on a real server,
// TestDuplicateWaitsThenReplays.)
func TestWriteTellsTheAttemptAfterAKeyRace(t *testing.T) {
	t.Parallel()
	serialization := &pgconn.PgError{Code: pgerrcode.SerializationFailure}
	answers := []error{serialization, fmt.Errorf("book: %w", errKeyRaced), serialization, errKeyRaced, nil}
	var told []bool
	_, err := write(context.Background(), &engine{}, txPolicy{attempts: 5}, nil, func(raced bool) result[struct{}] {
		told = append(told, raced)
		return result[struct{}]{err: answers[len(told)-1]}
	})
	if want := []bool{false, false, true, true, true}; err != nil || !slices.Equal(told, want) {
		t.Fatalf("err %v, attempts told raced %v; want %v", err, told, want)
	}
}
