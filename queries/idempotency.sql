-- Idempotency keys: a retried request must not book twice.
--
-- The key is claimed by inserting its row in the SAME transaction as the
-- booking, and the response is written into it before COMMIT. So either both
-- the booking and the stored response exist, or neither does. A duplicate
-- arriving meanwhile waits on the unique index for the first transaction to
-- end: after a commit it finds the key and replays the stored response;
-- after a rollback its own INSERT claims the key and it runs for real. The
-- wait is bounded by lock_timeout (SetLockTimeout), after which the
-- duplicate is told the request is still in progress.

-- name: SetLockTimeout :exec
-- SetLockTimeout bounds lock waits for the rest of this transaction.
SELECT set_config('lock_timeout', @timeout::text, true);

-- name: ClaimIdempotencyKey :execrows
-- ClaimIdempotencyKey inserts the key if nobody holds it: 1 row means this
-- transaction owns it; 0 rows means a committed request already used it.
INSERT INTO idempotency_keys (key, fingerprint, status, body, expires_at)
VALUES (@key, @fingerprint, 0, '', clock_timestamp() + make_interval(secs => @ttl_seconds::integer))
    ON CONFLICT (key) DO NOTHING;

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
