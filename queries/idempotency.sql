-- Idempotency keys: a retried request must not book twice.
--
-- The key is claimed by inserting its row in the SAME transaction as the
-- booking, and the response is written into it before COMMIT. So either both
-- the booking and the stored response exist, or neither does. A duplicate
-- arriving meanwhile waits on the key's advisory lock (LockIdempotencyKey)
-- for the first transaction to end: after a commit it finds the key and
-- replays the stored response; after a rollback its own INSERT claims the
-- key and it runs for real. The wait is bounded by lock_timeout
-- (SetLockTimeout), after which the duplicate is told the request is still
-- in progress. A batch (batched.sql) does not wait at all: it tries the
-- locks and answers "in progress" for the keys it did not get.

-- name: SetLockTimeout :exec
-- SetLockTimeout bounds lock waits for the rest of this transaction.
SELECT set_config('lock_timeout', @timeout::text, true);

-- name: ClaimIdempotencyKey :execrows
-- ClaimIdempotencyKey inserts the key if nobody holds it: 1 row means this
-- transaction owns it; 0 rows means a committed request already used it.
-- A key past its retention that no sweeper has deleted yet is claimed
-- afresh. DO UPDATE (rather than DO NOTHING) also locks an existing row,
-- so a sweeper cannot delete it between this claim and the read of its
-- stored answer.
INSERT INTO idempotency_keys (key, fingerprint, status, body, expires_at)
VALUES (@key, @fingerprint, 0, '', clock_timestamp() + make_interval(secs => @ttl_seconds::integer))
    ON CONFLICT (key) DO UPDATE
   SET fingerprint = excluded.fingerprint, status = 0, body = '',
       created_at = clock_timestamp(), expires_at = excluded.expires_at
 WHERE idempotency_keys.expires_at <= clock_timestamp();

-- name: StoreIdempotentResponse :exec
-- StoreIdempotentResponse records the outcome to replay, before COMMIT.
UPDATE idempotency_keys
   SET status = @status, body = @body
 WHERE key = @key;

-- name: GetIdempotentResponse :one
SELECT fingerprint, status, body
  FROM idempotency_keys
 WHERE key = @key;

-- name: SweepIdempotencyKeys :execrows
-- SweepIdempotencyKeys forgets keys past their retention, a batch at a time.
DELETE FROM idempotency_keys
 WHERE key IN (SELECT k.key FROM idempotency_keys AS k
                WHERE k.expires_at <= clock_timestamp()
                LIMIT @batch_size::integer
                  FOR UPDATE SKIP LOCKED);

-- Every transaction that claims a key first takes an advisory lock named
-- after it (namespace x'45564b59', "EVKY"). A claim then never waits on a
-- row: whoever holds the lock is the only one who can have inserted the key
-- without committing yet.

-- name: LockIdempotencyKey :exec
-- LockIdempotencyKey waits (up to lock_timeout) for the key's lock.
SELECT pg_advisory_xact_lock(x'45564b59'::integer, hashtext(@key::text))::text;

-- name: TryLockIdempotencyKeys :many
-- TryLockIdempotencyKeys takes the locks of a batch's keys without
-- waiting and returns those it got; a key it did not get belongs to a
-- request in progress elsewhere.
SELECT k.key::text AS key
  FROM unnest(@keys::text[]) AS k (key)
 WHERE pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(k.key));

-- name: ClaimIdempotencyKeys :many
-- ClaimIdempotencyKeys is ClaimIdempotencyKey for a batch (whose keys are
-- distinct); it returns the keys it claimed (the others were used before).
INSERT INTO idempotency_keys (key, fingerprint, status, body, expires_at)
SELECT k.key, f.fingerprint, 0, '', clock_timestamp() + make_interval(secs => @ttl_seconds::integer)
  FROM unnest(@keys::text[]) WITH ORDINALITY AS k (key, ord)
  JOIN unnest(@fingerprints::text[]) WITH ORDINALITY AS f (fingerprint, ord) ON f.ord = k.ord
    ON CONFLICT (key) DO UPDATE
   SET fingerprint = excluded.fingerprint, status = 0, body = '',
       created_at = clock_timestamp(), expires_at = excluded.expires_at
 WHERE idempotency_keys.expires_at <= clock_timestamp()
RETURNING key;

-- name: GetIdempotentResponses :many
SELECT key, fingerprint, status, body
  FROM idempotency_keys
 WHERE key = ANY (@keys::text[]);

-- name: StoreIdempotentResponses :exec
-- StoreIdempotentResponses records a batch's outcomes, before COMMIT.
UPDATE idempotency_keys AS i
   SET status = r.status, body = r.body
  FROM (SELECT k.key, s.status, b.body
          FROM unnest(@keys::text[]) WITH ORDINALITY AS k (key, ord)
          JOIN unnest(@statuses::integer[]) WITH ORDINALITY AS s (status, ord) ON s.ord = k.ord
          JOIN unnest(@bodies::bytea[]) WITH ORDINALITY AS b (body, ord) ON b.ord = k.ord) AS r
 WHERE i.key = r.key;
