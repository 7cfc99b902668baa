package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/lab/client"
)

// serverQueryTimeout is the lab's servers' --query-timeout (the servers'
// default, said out loud because settle counts on it).
const serverQueryTimeout = 5 * time.Second

// serverPauseFor is how long --faults pause-server freezes a server: past
// the bound the servers give their sessions (serverQueryTimeout + 1s, as
// statement, lock and idle-in-transaction timeouts), with time to spare,
// so that the database ends the frozen server's transactions and frees
// their locks while it is still frozen, and the others book again.
const serverPauseFor = serverQueryTimeout + 3*time.Second

// defaultStandbyLag and defaultStandbyStall, how long lag-failover lets
// the standby fall behind and stall-standby freezes it, stay under
// serverQueryTimeout: commits waiting for a synchronous standby meanwhile
// wait, and are not cancelled. --standby-pause outlasts it on purpose.
const (
	defaultStandbyLag   = time.Second
	defaultStandbyStall = 3 * time.Second
)

// notOurServers is why a load cannot call a key with no booking "not
// booked": it did not start the servers, so it cannot know that none of
// them still holds such a request (frozen, or its write still running).
const notOurServers = "no booking is stored under their keys, but the servers are not this run's: one still holding such a request (frozen, or its write still running) could commit it later"

// resolveUnknowns asks the database what became of every keyed booking
// whose outcome the clients never learned, and settles res with it
// (client.Result.Resolve). A key holding a booking booked its rooms, for
// good: a stored booking is committed. A key holding none means "not
// booked" only once no server can still commit a request under it; settle,
// when not nil, waits for that, and a load on servers it did not start
// (settle nil) leaves such requests unknown and says why.
func resolveUnknowns(ctx context.Context, pool *pgxpool.Pool, res *client.Result, settle func(context.Context) error) error {
	var keys []string
	for _, t := range res.Targets {
		for key := range t.UnknownKeys {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	stored, err := labdb.KeyedReservations(ctx, pool, keys)
	if err != nil {
		return fmt.Errorf("resolve the unknown outcomes: %w", err)
	}
	if len(stored) == len(keys) {
		res.Resolve(stored, "")
		return nil
	}
	if settle == nil {
		res.Resolve(stored, notOurServers)
		return nil
	}
	if err := settle(ctx); err != nil {
		res.Resolve(stored, "no booking is stored under their keys, but the servers did not settle, so one may still commit it: "+err.Error())
		return nil
	}
	// Read again: a request may have committed while the servers settled.
	if stored, err = labdb.KeyedReservations(ctx, pool, keys); err != nil {
		return fmt.Errorf("resolve the unknown outcomes: %w", err)
	}
	res.Resolve(stored, "")
	return nil
}

// settle waits until no server of the lab can still commit a request of
// the run that ended, so that a key with no booking stored means "not
// booked". That holds once three things are true, waited for in turn:
//  1. every server answers (Healthy): none is frozen, so each has read
//     what it was sent and started a handler for it;
//  2. a write's time in the database has run out: its statements end
//     within --query-timeout of its handler's start (or, batched, of its
//     batch's, which starts within the batch window, 0 in the lab), so
//     twice the timeout after every server answers, no server can send a
//     statement for a request of the run; a handler that started before a
//     freeze finds its deadline passed when it thaws;
//  3. no transaction holds an idempotency key's lock: a COMMIT already on
//     its way when a server died or froze has been carried out, or
//     rolled back, by PostgreSQL (a keyed booking holds its key's advisory
//     lock, queries/idempotency.sql, until it ends).
//
// It costs the run twice the query timeout, paid only when some key holds
// no booking.
func (l *Lab) settle(ctx context.Context) error {
	if err := l.cluster.Healthy(ctx); err != nil {
		return fmt.Errorf("a server does not answer: %w", err)
	}
	select {
	case <-time.After(2 * serverQueryTimeout):
	case <-ctx.Done():
		return fmt.Errorf("wait out the servers' query timeout: %w", ctx.Err())
	}
	return waitForKeyLocks(ctx, l.cluster.Pool)
}

// idempotencyLockSpace is the advisory lock namespace of idempotency keys
// (x'45564b59', "EVKY", queries/idempotency.sql).
const idempotencyLockSpace = 0x45564b59

// waitForKeyLocks waits until no session holds an idempotency key's
// advisory lock: no keyed request is inside a transaction.
func waitForKeyLocks(ctx context.Context, pool *pgxpool.Pool) error {
	for pause := 50 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		var held int
		// Two-key advisory locks show the first key as classid and 2 as
		// objsubid.
		err := pool.QueryRow(ctx, `
			SELECT count(*) FROM pg_locks
			 WHERE locktype = 'advisory' AND objsubid = 2 AND classid = $1::bigint::oid`,
			int64(idempotencyLockSpace)).Scan(&held)
		if err == nil && held == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("read the idempotency keys' locks: %w", err)
			}
			return fmt.Errorf("%d idempotency key locks still held: %w", held, ctx.Err())
		case <-time.After(pause):
		}
	}
}
