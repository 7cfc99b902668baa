-- Idempotency keys: a retried request must not book twice.
--
-- One protocol for every write and every strategy, batched or not (a single
-- request is a batch of one key), in the SAME transaction as the booking.
-- A key is written once, with the work, and only for what was done: a
-- booking's key on its reservation row (reservations.idempotency_key,
-- sql/00010_reservation_keys.sql), any other outcome's in idempotency_keys.
--   1. LockIdempotencyKeys: take each key's advisory lock without waiting,
--      and say of each locked key whether a live key, on a reservation
--      (under SERIALIZABLE, not looked for on a first attempt: see below)
--      or in idempotency_keys, holds it. Per key:
--        - locked, none: this transaction owns the key; it does the work,
--          and the key is written with it before COMMIT: the booking and
--          its key exist, or neither. A booking's key is a column of the
--          reservation the booking inserts (a transaction of one booking
--          sets it through the columns' defaults, which this statement
--          arms; a batch's statement writes it explicitly); another
--          outcome's row is inserted by RecordIdempotencyOutcomes. A
--          refusal, which did nothing (evento.Outcome.Kept), writes no key
--          at all: nothing of the request stays behind, and a resend is
--          answered afresh.
--        - locked, a live key: a committed request used the key first;
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
-- Anomaly prevented: the DOUBLE EXECUTION of one request. Why the lock is
-- enough: whoever holds a key's advisory lock (namespace x'45564b59',
-- "EVKY") is the only one who can be writing it, so the INSERT never waits
-- on another's uncommitted key. Why the unique index is the real guard:
-- LockIdempotencyKeys reads under a snapshot taken before it got the
-- locks, so a duplicate that committed in that instant is invisible to
-- it. Its key is not invisible to the uniqueness check of the INSERT that
-- writes the key again (reservations_idempotency_key_idx for a booking,
-- idempotency_keys' primary key for anything else), which fails with
-- unique_violation: the transaction, booking included, is undone and runs
-- again with a new snapshot, and replays. One request always writes its
-- key to the same table (its fingerprint names its route, and the route
-- its operation and strategy), so its duplicates meet on one index.
--
-- Not prevented: two DIFFERENT requests made with one key (the client's
-- mistake, refused with 409 key_reused) that commit to different tables
-- within that same instant are both done; a resend of either then finds
-- both keys and replays the one its fingerprint matches.
--
-- Under SERIALIZABLE (the serializable strategy's bookings; every other
-- write, holds and confirmations included, and the sweepers run under READ
-- COMMITTED) the protocol is the same, the key on the reservation, but
-- for one read: LockIdempotencyKeys looks for the key among bookings
-- (@probe_bookings) only on the attempts after one that met the key in
-- use.
-- There a read of an absent key takes an SIREAD predicate lock on its
-- page of reservations_idempotency_key_idx, and concurrent bookings
-- inserting their keys on that page, at any hotel, would fail each other
-- with serialization_failure (40001). Anomaly still prevented, the same
-- way: a key a booking used already, which this claim did not see, is met
-- by the INSERT that writes it again, whose unique_violation undoes the
-- transaction (or serialization_failure first, when that booking committed
-- after this transaction's snapshot: the rerun then meets the
-- unique_violation); the attempts after it probe, and replay, or forget
-- a key past its retention, as under READ COMMITTED. So does the attempt
-- after a duplicate waited for the request holding its key, which most
-- likely committed it. A request refused before any INSERT (no rooms)
-- writes no key, so nothing meets it: before it answers, its transaction
-- looks for the key among bookings (db/idempotency.go, recheckRefusals),
-- so that a resend of a booking made already replays instead of being told
-- sold out. The read of idempotency_keys stays in every attempt: no
-- serializable transaction writes that table, and SSI does not track
-- READ COMMITTED writers, so its predicate locks fail no one.

-- name: LockIdempotencyKeys :many
-- LockIdempotencyKeys takes the locks it can get of distinct keys, without
-- waiting, and returns the locked keys, each with whether a live key holds
-- it (used: replay it) or a key past its retention that no sweeper has
-- cleared yet (expired: ForgetExpiredIdempotencyKeys, then the key is
-- owned afresh). One probe of each key index per key, and nothing
-- written. statement_timestamp() so that used and expired come from one
-- instant. With @probe_bookings false (SERIALIZABLE's first attempt, see
-- above) the reservations are not read at all, and their key index is not
-- predicate-locked: a CASE evaluates its THEN only when its WHEN holds,
-- and the scalar subquery in it runs only then, whether the plan is custom
-- (the CASE folded away) or generic (db/serializablekeys_test.go).
--
-- It also arms the reservation's key columns for a transaction of one
-- booking (@booking_key, '' otherwise): set_config(..., true) sets the
-- settings their defaults read (sql/00010_reservation_keys.sql) until the
-- transaction ends, so the strategy's INSERT INTO reservations records the
-- key with the booking, and a transaction that does not book records
-- nothing. Armed whatever the lock said: a transaction books only when it
-- owns the key.
WITH armed AS MATERIALIZED (
    SELECT set_config('evento.idempotency_key', @booking_key::text, true),
           set_config('evento.idempotency_fingerprint', @booking_fingerprint::text, true),
           set_config('evento.idempotency_keep',
                      CASE WHEN @booking_key::text = '' THEN ''
                           ELSE (@booking_keep_seconds::integer)::text END, true)
), locked AS (
    SELECT r.key
      FROM unnest(@keys::text[]) AS r (key)
     WHERE pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(r.key))
       AND EXISTS (SELECT FROM armed)
)
SELECT locked.key::text AS key,
       (coalesce(k.expires_at > statement_timestamp(), false)
        OR coalesce(r.key_expires_at > statement_timestamp(), false))::boolean AS used,
       (coalesce(k.expires_at <= statement_timestamp(), false)
        OR coalesce(r.key_expires_at <= statement_timestamp(), false))::boolean AS expired
  FROM locked
  LEFT JOIN idempotency_keys AS k ON k.key = locked.key
 CROSS JOIN LATERAL (
       SELECT CASE WHEN @probe_bookings::boolean
                   THEN (SELECT res.key_expires_at
                           FROM reservations AS res
                          WHERE res.idempotency_key = locked.key)
              END AS key_expires_at) AS r;

-- name: AwaitReplicaOfReplay :exec
-- AwaitReplicaOfReplay makes a transaction that replays stored outcomes
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
-- advisory lock already keeps every other writer of these keys away. A
-- reservation is locked FOR KEY SHARE, the weakest lock, which still
-- writes WAL and blocks no cancel.
WITH stored AS (
    SELECT key
      FROM idempotency_keys
     WHERE key = ANY (@keys::text[])
       FOR UPDATE
), booked AS (
    SELECT id
      FROM reservations
     WHERE idempotency_key = ANY (@keys::text[])
       FOR KEY SHARE
)
SELECT (SELECT count(*) FROM stored) + (SELECT count(*) FROM booked);

-- name: ForgetExpiredIdempotencyKeys :exec
-- ForgetExpiredIdempotencyKeys forgets keys past their retention of keys
-- this transaction locked, so that the INSERT that writes the key afresh
-- does not meet them: a row of idempotency_keys is deleted, a
-- reservation's key cleared (the reservation stays). Only keys still past
-- it: a key a rival committed since LockIdempotencyKeys' snapshot is live,
-- stays, and fails the INSERT (see above).
WITH stored AS (
    DELETE FROM idempotency_keys
     WHERE key = ANY (@keys::text[])
       AND expires_at <= statement_timestamp()
)
UPDATE reservations
   SET idempotency_key = NULL, key_fingerprint = NULL, key_expires_at = NULL
 WHERE idempotency_key = ANY (@keys::text[])
   AND key_expires_at <= statement_timestamp();

-- name: RecordIdempotencyOutcomes :exec
-- RecordIdempotencyOutcomes inserts the rows of the keys this transaction
-- owns whose work was kept and is not a booking (a hold or a confirmation,
-- as Go encoded it), before COMMIT, each once; a booking's key is on its
-- reservation already. A plain INSERT, no ON CONFLICT: a row of the same
-- key committed since LockIdempotencyKeys' snapshot makes it fail with
-- unique_violation, which undoes the work (see above).
INSERT INTO idempotency_keys (key, fingerprint, outcome, expires_at)
SELECT r.key, (@fingerprints::text[])[r.ord], (@outcomes::jsonb[])[r.ord],
       clock_timestamp() + make_interval(secs => @ttl_seconds::integer)
  FROM unnest(@keys::text[]) WITH ORDINALITY AS r (key, ord);

-- name: GetIdempotencyOutcomes :many
-- GetIdempotencyOutcomes reads what keys this transaction locked but did
-- not own hold: the outcome to replay (a booking's reservation, or any
-- other outcome as Go encoded it), and the fingerprint that refuses a key
-- reused for a different request. Live keys only, from both places a key
-- is kept; a key may be found twice (see above), and the caller picks.
-- idempotency_keys' rows are read first, on their own (MATERIALIZED), so
-- that each one's reservation is then found by its id: as one join, with
-- statistics lagging a fast-growing idempotency_keys, the planner chose a
-- merge join that read every reservation in id order (100 ms a replay at
-- 150,000 reservations, growing with the table).
WITH k AS MATERIALIZED (
    SELECT key, fingerprint, outcome, reservation_id
      FROM idempotency_keys
     WHERE key = ANY (@keys::text[])
       AND expires_at > statement_timestamp()
)
SELECT k.key, k.fingerprint, k.outcome, k.reservation_id,
       r.name AS reservation_name, r.number AS reservation_rooms,
       ehr.event_id AS reservation_event_id, ehr.hotel_id AS reservation_hotel_id
  FROM k
  LEFT JOIN reservations AS r ON r.id = k.reservation_id
  LEFT JOIN event_hotel_rooms AS ehr ON ehr.id = r.event_hotel_rooms_id
UNION ALL
SELECT r.idempotency_key, r.key_fingerprint, NULL::jsonb, r.id,
       r.name, r.number, ehr.event_id, ehr.hotel_id
  FROM reservations AS r
  JOIN event_hotel_rooms AS ehr ON ehr.id = r.event_hotel_rooms_id
 WHERE r.idempotency_key = ANY (@keys::text[])
   AND r.key_expires_at > statement_timestamp();

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

-- name: SweepReservationKeys :execrows
-- SweepReservationKeys clears bookings' keys past their retention from
-- their reservations, a batch at a time, oldest first; the reservations
-- stay. Bounded as SweepIdempotencyKeys is: statement_timestamp() lets it
-- walk reservations_key_expires_at_idx, which holds keyed reservations
-- only, up to the statement's start and stop. Shaped so that the plan
-- holds whatever the statistics say: reservations grows fast (a sale
-- books thousands a second), and before its first ANALYZE the planner,
-- given WHERE ... IN (subquery) without ORDER BY, read the whole table
-- twice, every second on every server. ORDER BY the index's column makes
-- the index the cheaper way to the first rows, and = ANY (ARRAY(...))
-- finds the batch's rows by their primary key. SKIP LOCKED passes over a
-- reservation being cancelled or replayed; the next sweep clears it.
UPDATE reservations
   SET idempotency_key = NULL, key_fingerprint = NULL, key_expires_at = NULL
 WHERE id = ANY (ARRAY(SELECT r.id FROM reservations AS r
                        WHERE r.key_expires_at <= statement_timestamp()
                        ORDER BY r.key_expires_at
                        LIMIT @batch_size::integer
                          FOR UPDATE SKIP LOCKED));
