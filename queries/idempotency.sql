-- Idempotency keys: a retried request must not book twice.
--
-- One protocol for every write and every strategy, batched or not (a single
-- request is a batch of one key):
--   1. ClaimIdempotencyKeys, in the SAME transaction as the booking: take
--      each key's advisory lock without waiting, and insert the key's row.
--      Per key the answer is one of
--        - claimed: this transaction owns the key; it books, then
--        - StoreIdempotencyOutcomes writes the outcome into the row before
--          COMMIT. Either the booking and its outcome both exist, or neither.
--        - stored: a committed request used the key first; its outcome is
--          returned for replay (and the fingerprint, to refuse a key reused
--          for a different request). Nothing is booked.
--        - locked elsewhere: a request with this key is running right now.
--   2. Only then, outside any transaction, WaitForIdempotencyKey waits (at
--      most the duplicate's remaining 2 s) until that request ends, and the
--      duplicate starts again at step 1: after a commit it replays, after a
--      rollback it claims the key and runs for real. Past 2 s it is told
--      request_in_progress.
-- Nobody waits inside a transaction, so a duplicate never stalls a batch
-- and never holds a hot row while it waits.
--
-- The advisory lock (namespace x'45564b59', "EVKY") is what lets the claim
-- never wait on a row: whoever holds it is the only one who can have
-- inserted the key without committing yet.

-- name: ClaimIdempotencyKeys :many
-- ClaimIdempotencyKeys claims distinct keys, each bound to its request's
-- fingerprint. A key past its retention that no sweeper has deleted yet is
-- claimed afresh. DO UPDATE (rather than DO NOTHING) also locks an existing
-- row, so a sweeper cannot delete a stored outcome while it is replayed.
-- The final SELECT reads idempotency_keys as it was before this statement:
-- for a key not claimed here, that is the committed first request.
WITH request AS (
    SELECT k.key, f.fingerprint
      FROM unnest(@keys::text[]) WITH ORDINALITY AS k (key, ord)
      JOIN unnest(@fingerprints::text[]) WITH ORDINALITY AS f (fingerprint, ord) ON f.ord = k.ord
), locked AS (
    SELECT request.key, request.fingerprint
      FROM request
     WHERE pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(request.key))
), claimed AS (
    INSERT INTO idempotency_keys (key, fingerprint, outcome, expires_at)
    SELECT locked.key, locked.fingerprint, NULL,
           clock_timestamp() + make_interval(secs => @ttl_seconds::integer)
      FROM locked
        ON CONFLICT (key) DO UPDATE
       SET fingerprint = excluded.fingerprint, outcome = NULL,
           created_at = clock_timestamp(), expires_at = excluded.expires_at
     WHERE idempotency_keys.expires_at <= clock_timestamp()
    RETURNING idempotency_keys.key
)
SELECT request.key::text AS key,
       (locked.key IS NOT NULL)::boolean AS locked,
       (claimed.key IS NOT NULL)::boolean AS claimed,
       coalesce(stored.fingerprint, '')::text AS stored_fingerprint,
       stored.outcome AS stored_outcome
  FROM request
  LEFT JOIN locked ON locked.key = request.key
  LEFT JOIN claimed ON claimed.key = request.key
  LEFT JOIN idempotency_keys AS stored ON stored.key = request.key AND claimed.key IS NULL;

-- name: StoreIdempotencyOutcomes :exec
-- StoreIdempotencyOutcomes records the claimed keys' outcomes, before COMMIT.
-- It runs while the booking still holds the hotel's row lock, so it is kept
-- to a cheap form: the two arrays zipped by set-returning functions in one
-- SELECT list (they advance in lockstep), one index lookup per key.
UPDATE idempotency_keys AS i
   SET outcome = o.outcome
  FROM (SELECT unnest(@keys::text[]) AS key,
               unnest(@outcomes::jsonb[]) AS outcome) AS o
 WHERE i.key = o.key;

-- name: WaitForIdempotencyKey :exec
-- WaitForIdempotencyKey returns once no transaction holds the key's lock,
-- waiting at most @wait_ms: it takes the lock and, in its own short
-- transaction, lets it go at once. Past the wait it fails with SQLSTATE
-- 55P03 (lock_not_available): the other request is still running.
SELECT set_config('lock_timeout', @wait_ms::text || 'ms', true),
       pg_advisory_xact_lock(x'45564b59'::integer, hashtext(@key::text))::text;

-- name: SweepIdempotencyKeys :execrows
-- SweepIdempotencyKeys forgets keys past their retention, a batch at a time.
DELETE FROM idempotency_keys
 WHERE key IN (SELECT k.key FROM idempotency_keys AS k
                WHERE k.expires_at <= clock_timestamp()
                LIMIT @batch_size::integer
                  FOR UPDATE SKIP LOCKED);
