-- Idempotency keys: a retried request must not book twice.
--
-- One protocol for every write and every strategy, batched or not (a single
-- request is a batch of one key), in the SAME transaction as the booking.
-- A key's row is written once, after the work, and only for what was done:
--   1. LockIdempotencyKeys: take each key's advisory lock without waiting,
--      and say of each locked key whether a live row holds it. Per key:
--        - locked, no row: this transaction owns the key; it books, then
--        - RecordIdempotencyOutcomes inserts the key's row with the outcome
--          (a booking as its reservation's id) before COMMIT: the booking
--          and its key both exist, or neither. A refusal, which did
--          nothing (evento.Outcome.Kept), writes no row at all: nothing of
--          the request stays behind, and a resend is answered afresh.
--        - locked, a row: a committed request used the key first;
--          GetIdempotencyOutcomes reads its outcome to replay (or its
--          fingerprint refuses a key reused for another request). Nothing
--          is booked.
--        - not locked: a request with this key is running right now.
--   2. Only then, outside any transaction, WaitForIdempotencyKey waits (at
--      most the duplicate's remaining 2 s) until that request ends, and the
--      duplicate starts again at step 1: after a commit it replays, after a
--      rollback (or a refusal, which kept nothing) it owns the key and runs
--      the request itself. Past 2 s it is told request_in_progress.
-- Nobody waits inside a transaction, so a duplicate never stalls a batch
-- and never holds a hot row while it waits.
--
-- Why the lock is enough: whoever holds a key's advisory lock (namespace
-- x'45564b59', "EVKY") is the only one who can be inserting it, so the
-- INSERT never waits on another's uncommitted row. Why the INSERT is the
-- real guard: LockIdempotencyKeys reads under a snapshot taken before it
-- got the locks, so a duplicate that committed in that instant is
-- invisible to it. Its row is not invisible to the INSERT's uniqueness
-- check, which fails with unique_violation: the transaction, booking
-- included, is undone and runs again with a new snapshot, and replays.
--
-- Under SERIALIZABLE the key is claimed the older way (ClaimIdempotencyKeys
-- inserts it first, StoreIdempotencyOutcomes fills it in, or
-- ForgetIdempotencyKeys deletes it for a refusal): there, a read of an
-- absent key predicate-locks its page of the key's index, and concurrent
-- bookings inserting their keys on that page would fail each other. It
-- writes each key twice; under READ COMMITTED the read takes no predicate
-- lock, and a key costs one row insert. Under SERIALIZABLE, a row committed
-- after the transaction's snapshot can be met by ClaimIdempotencyKeys'
-- INSERT yet be invisible to GetIdempotencyOutcomes: the transaction then
-- runs again, with a new snapshot, and replays.

-- name: LockIdempotencyKeys :many
-- LockIdempotencyKeys takes the locks it can get of distinct keys, without
-- waiting, and returns the locked keys, each with whether a live row holds
-- it (used: replay it) or a row past its retention that no sweeper has
-- deleted yet (expired: DeleteExpiredIdempotencyKeys, then the key is
-- owned afresh). One probe of the key's index per key, and nothing written:
-- the expired row is rare, and deleting it here cost every key a second
-- probe and a DELETE. statement_timestamp() so that used and expired come
-- from one instant. READ COMMITTED only (see above).
WITH locked AS (
    SELECT r.key
      FROM unnest(@keys::text[]) AS r (key)
     WHERE pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(r.key))
)
SELECT locked.key::text AS key,
       coalesce(k.expires_at > statement_timestamp(), false)::boolean AS used,
       coalesce(k.expires_at <= statement_timestamp(), false)::boolean AS expired
  FROM locked
  LEFT JOIN idempotency_keys AS k ON k.key = locked.key;

-- name: AwaitReplicaOfReplay :exec
-- AwaitReplicaOfReplay makes a transaction that replays stored bookings
-- commit only once a synchronous standby has them. A booking's own request
-- may have lost its answer while its COMMIT waited for the standby (its
-- client gave up: the commit stays on the primary, and a failover loses
-- it); a resend replaying it with 201 would then tell of a booking no
-- failover keeps. LockIdempotencyKeys writes nothing, and PostgreSQL lets
-- a transaction that wrote no WAL commit without waiting for the standby;
-- a transaction id alone is not enough. Locking the replayed keys' rows
-- writes WAL, so COMMIT waits, under synchronous replication, until the
-- standby has the WAL up to it, which holds the earlier bookings; past the
-- request's deadline the answer is 504. Only replays pay it, and the key's
-- advisory lock already keeps every other writer of these rows away. Not
-- sent after ClaimIdempotencyKeys (SERIALIZABLE), whose DO UPDATE has
-- locked these rows already.
SELECT key
  FROM idempotency_keys
 WHERE key = ANY (@keys::text[])
   FOR UPDATE;

-- name: DeleteExpiredIdempotencyKeys :exec
-- DeleteExpiredIdempotencyKeys deletes rows past their retention of keys
-- this transaction locked, so that RecordIdempotencyOutcomes' plain INSERT
-- does not meet them. Only rows still past it: a row a rival committed
-- since LockIdempotencyKeys' snapshot is live, stays, and fails the INSERT
-- (see above).
DELETE FROM idempotency_keys
 WHERE key = ANY (@keys::text[])
   AND expires_at <= statement_timestamp();

-- name: RecordIdempotencyOutcomes :exec
-- RecordIdempotencyOutcomes inserts the rows of the keys this transaction
-- owns and whose work was kept, before COMMIT, each once: a booking as its
-- reservation's id (reservation_ids; 0 for any other outcome) and no JSON,
-- a hold or a confirmation as Go encoded it (outcomes). A plain INSERT, no
-- ON CONFLICT: a row of the same key committed since LockIdempotencyKeys'
-- snapshot makes it fail with unique_violation, which undoes the booking
-- (see above). It runs while the booking may still hold the hotel's row
-- lock, so it touches nothing but the new rows.
INSERT INTO idempotency_keys (key, fingerprint, outcome, reservation_id, expires_at)
SELECT r.key, (@fingerprints::text[])[r.ord], (@outcomes::jsonb[])[r.ord],
       nullif((@reservation_ids::bigint[])[r.ord], 0),
       clock_timestamp() + make_interval(secs => @ttl_seconds::integer)
  FROM unnest(@keys::text[]) WITH ORDINALITY AS r (key, ord);

-- name: ClaimIdempotencyKeys :many
-- ClaimIdempotencyKeys (SERIALIZABLE only, see above) takes the locks it can get of distinct keys, without
-- waiting, and inserts the locked keys' rows (outcome still NULL). It
-- returns the locked keys, each with whether this transaction now owns it;
-- a locked key it does not own holds a live outcome. A key past its
-- retention that no sweeper has deleted yet is owned afresh. The common
-- path reads no other key: under SERIALIZABLE a read of absent keys would
-- take predicate locks that make concurrent bookings fail each other.
--
-- Under synchronous replication a replay must not commit before the
-- standby has what it replays (AwaitReplicaOfReplay): here DO UPDATE's lock
-- of a used key's row writes the WAL that makes COMMIT wait.
WITH locked AS (
    SELECT r.key, r.fingerprint
      FROM (SELECT unnest(@keys::text[]) AS key,
                   unnest(@fingerprints::text[]) AS fingerprint) AS r
     WHERE pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(r.key))
), owned AS (
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
SELECT locked.key::text AS key,
       (owned.key IS NOT NULL)::boolean AS owned
  FROM locked
  LEFT JOIN owned ON owned.key = locked.key;

-- name: GetIdempotencyOutcomes :many
-- GetIdempotencyOutcomes reads what keys this transaction locked but did
-- not own hold: the outcome to replay (a booking's reservation, or any
-- other outcome as Go encoded it), and the fingerprint that refuses a key
-- reused for a different request. The keys are read first, on their own
-- (MATERIALIZED), so that each one's reservation is then found by its id:
-- as one join, with statistics lagging a fast-growing idempotency_keys,
-- the planner chose a merge join that read every reservation in id order
-- (100 ms a replay at 150,000 reservations, growing with the table).
WITH k AS MATERIALIZED (
    SELECT key, fingerprint, outcome, reservation_id
      FROM idempotency_keys
     WHERE key = ANY (@keys::text[])
)
SELECT k.key, k.fingerprint, k.outcome, k.reservation_id,
       r.name AS reservation_name, r.number AS reservation_rooms,
       ehr.event_id AS reservation_event_id, ehr.hotel_id AS reservation_hotel_id
  FROM k
  LEFT JOIN reservations AS r ON r.id = k.reservation_id
  LEFT JOIN event_hotel_rooms AS ehr ON ehr.id = r.event_hotel_rooms_id;

-- name: StoreIdempotencyOutcomes :exec
-- StoreIdempotencyOutcomes (after ClaimIdempotencyKeys) records the owned keys' outcomes, before COMMIT.
-- It runs while the booking may still hold the hotel's row lock, so it is
-- kept cheap, and it touches the idempotency_keys rows through their
-- primary key alone (key = ANY): under SERIALIZABLE a join here planned as
-- a scan of the table took predicate locks that made concurrent bookings
-- fail each other (27 % more reruns in a 30-client test).
-- A booking is stored as its reservation's id (reservation_ids; 0 for any
-- other outcome), every other outcome as Go encoded it (outcomes).
UPDATE idempotency_keys
   SET outcome = (@outcomes::jsonb[])[array_position(@keys::text[], key)],
       reservation_id = nullif((@reservation_ids::bigint[])[array_position(@keys::text[], key)], 0)
 WHERE key = ANY (@keys::text[]);

-- name: ForgetIdempotencyKeys :exec
-- ForgetIdempotencyKeys (after ClaimIdempotencyKeys) deletes the rows of keys this transaction owns whose
-- outcome is not kept (a refusal): before COMMIT, so that the key never
-- holds such an outcome. Kept, a flood of refused requests would cost a
-- row each for a day, a key squatted by a request for nothing would refuse
-- or mislead its owner's real request for as long, and a rooms_held would
-- be replayed long after the rooms were back. Through the
-- primary key alone, as StoreIdempotencyOutcomes and for the same reason.
DELETE FROM idempotency_keys
 WHERE key = ANY (@keys::text[]);

-- name: WaitForIdempotencyKey :exec
-- WaitForIdempotencyKey returns once no transaction holds the key's lock,
-- waiting at most @wait_ms: it takes the lock and, in its own short
-- transaction, lets it go at once. Past the wait it fails with SQLSTATE
-- 55P03 (lock_not_available): the other request is still running.
SELECT set_config('lock_timeout', @wait_ms::text || 'ms', true),
       pg_advisory_xact_lock(x'45564b59'::integer, hashtext(@key::text))::text;

-- name: SweepIdempotencyKeys :execrows
-- SweepIdempotencyKeys forgets keys past their retention, a batch at a time.
-- It compares with statement_timestamp(), not clock_timestamp(): a volatile
-- function cannot bound an index scan, and the sweep, every second on every
-- server, read every key of the retention period (a day's bookings) to
-- find none due. Stable, it walks idempotency_keys_expires_at_idx up to the
-- statement's start and stops.
DELETE FROM idempotency_keys
 WHERE key IN (SELECT k.key FROM idempotency_keys AS k
                WHERE k.expires_at <= statement_timestamp()
                LIMIT @batch_size::integer
                  FOR UPDATE SKIP LOCKED);
