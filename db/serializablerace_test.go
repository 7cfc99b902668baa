package db_test

import (
	"testing"
)

// A resend of a committed serializable booking meets its key on its INSERT
// (the first attempt does not look for it among bookings), and the attempt
// after that race looks for it and replays. When that attempt is rerun
// after a serialization failure or a deadlock, the rerun must still look
// for the key: otherwise it races again on the INSERT, a second race ends
// the request with an error, and the resend is not replayed.
//
// The deadlock, twice: a session holds the booking's reservation FOR UPDATE, so
// the replay's lock of it (AwaitReplicaOfReplay) waits; the session then
// takes the key's lock, which the replay holds. PostgreSQL looks for a
// deadlock once per wait, deadlock_timeout after it began, and the waiter
// that looks first is the victim: the session starts its wait half a
// deadlock_timeout after the replay's began, so the replay looks first by
// that margin, not by the few milliseconds a poll takes, which a busy
// machine's scheduler can swallow.
//
// After the second deadlock the session keeps the key's lock until the
// resend waits for it. The two deadlocks took two deadlock_timeouts, as
// long as duplicateWait: the wait for a busy key is counted from the first
// time the key was found busy, not from the request's start, or the
// resend would answer request_in_progress without waiting at all. (The
// session used to let the lock go at once, and the resend met it busy or
// not by the scheduler's whim.)
func TestSerializableReplayRerunAfterADeadlockStillLooksForItsKey(t *testing.T) {
	t.Parallel()
	store, b := setup(t, 2, 10)
	admin := otherPool(t, b.pool)
	key := idemKey("deadlocked-replay", "reserve 2")
	first, err := valueOf(store.Reserve(b.ctx, "serializable", b.hotel.request("ada", 2), key))
	if err != nil {
		t.Fatal(err)
	}
	holder := begin(t, admin).tx
	if _, err := holder.Exec(b.ctx, `SELECT FROM reservations WHERE id = $1 FOR UPDATE`, first.ReservationID); err != nil {
		t.Fatal(err)
	}
	s := reserveAsync(b.ctx, store, "serializable", b.hotel.request("ada", 2), key)
	// Twice: a request may race on its key twice, not three times
	// (keyRaceAttempts).
	for round := 1; round <= 2; round++ {
		waitFor(t, admin, 1, "the resend's replay never waited for the reservation's lock", waitingHalfADeadlockTimeout)
		// Takes the key's lock once the deadlock is broken; after the
		// first round, lets it go at once.
		if _, err := holder.Exec(b.ctx, `SELECT pg_advisory_lock(x'45564b59'::integer, hashtext($1))`, key.Key); err != nil {
			t.Fatalf("round %d: the session was the deadlock's victim, not the replay: %v", round, err)
		}
		if round == 2 {
			waitFor(t, admin, 1, "the resend never waited for the busy key: its wait was used up by the deadlocks", waitingForAKey)
		}
		if _, err := holder.Exec(b.ctx, `SELECT pg_advisory_unlock(x'45564b59'::integer, hashtext($1))`, key.Key); err != nil {
			t.Fatal(err)
		}
	}
	if err := holder.Rollback(b.ctx); err != nil {
		t.Fatal(err)
	}
	r := receive(t, s, "the resend never answered")
	if r.err != nil || !r.outcome.Replayed || r.outcome.Value != first {
		t.Fatalf("resend whose replay was a deadlock's victim: %+v, err %v; want %+v replayed", r.outcome, r.err, first)
	}
	assertBooked(t, admin, b.hotel, 2)
}

// waitingHalfADeadlockTimeout counts the sessions that have waited for a
// lock for half of deadlock_timeout or longer (pg_locks.waitstart).
const waitingHalfADeadlockTimeout = `SELECT count(*) FROM pg_locks
	WHERE NOT granted AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())
	  AND waitstart < clock_timestamp() - current_setting('deadlock_timeout')::interval / 2`

// waitingForAKey counts the sessions waiting for an advisory lock: a key's.
const waitingForAKey = `SELECT count(*) FROM pg_locks
	WHERE locktype = 'advisory' AND NOT granted
	  AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`
