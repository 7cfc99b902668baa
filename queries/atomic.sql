-- Strategy "atomic": let one conditional UPDATE check and book at once.
--
-- Steps:
--   1. AtomicBook: a single statement (so a single transaction) that
--      increments the counter only WHERE reserved + locked + rooms <=
--      assigned, and inserts the reservation only for the row it updated.
--   2. Only when it booked nothing: GetHotelRooms (rooms.sql) to tell the
--      client whether the hotel is sold out, has too few rooms, or is unknown.
--
-- Anomaly it prevents: the LOST UPDATE, without an explicit lock. The check
-- and the write are the same statement: UPDATE takes the row lock, and under
-- READ COMMITTED a writer that had to wait re-evaluates its WHERE clause on
-- the row version the other writer committed (PostgreSQL's EvalPlanQual), so
-- the condition is always tested against the latest counter. The lock is
-- held only for the statement, with no round trip to the client in between.
-- (The condition is written rooms <= assigned - reserved - locked so that
-- no sum can overflow an integer, whatever a client asks for.)

-- name: AtomicBook :one
-- AtomicBook books rooms if, and only if, they still fit.
WITH counter AS (
    UPDATE event_hotel_rooms
       SET reserved   = reserved + @rooms::integer,
           updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')
     WHERE event_id = @event_id
       AND hotel_id = @hotel_id
       AND @rooms::integer <= assigned - reserved - locked
    RETURNING id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id)
SELECT @name::text, counter.id, @rooms::integer, sqlc.narg('client_id')::bigint
  FROM counter
RETURNING id;

-- name: AtomicBookKeyed :one
-- AtomicBookKeyed is AtomicBook for a request with an idempotency key, as
-- ONE autocommit statement that also claims the key and records it on the
-- reservation (the protocol of idempotency.sql, specialised). It runs
-- outside any transaction, so the statement's own transaction commits with
-- it and every lock it takes (the hotel's row, the key's advisory lock) is
-- held for this one statement only: no round trip to the server while the
-- hot row is locked, where the general path holds it through the COMMIT.
--   1. claim: try the key's advisory lock (the very lock the general
--      path's LockIdempotencyKeys takes), without waiting, and check that
--      idempotency_keys holds no row of the key (a hold's, a
--      confirmation's). The UPDATE's condition on it is a one-time filter, so
--      the lock is taken before the hotel's row is read, let alone locked.
--   2. counter, booked: AtomicBook's conditional UPDATE and INSERT, only
--      when the key was claimed; the reservation carries the key, its
--      fingerprint and the end of its retention: one row written for the
--      booking and its key. A replay rebuilds the booking from it.
-- It returns the reservation's id, or no row when it did nothing: the key
-- is busy (another request holds its lock) or has a row in
-- idempotency_keys, or the rooms do not fit, or the hotel is unknown. A
-- key a booking used before (or past its retention and not yet swept)
-- makes the INSERT fail with unique_violation (23505) on
-- reservations_idempotency_key_idx, which undoes the whole statement,
-- counter included. In every one of those cases nothing is committed and
-- the request takes the general path, which waits, replays, refuses a
-- reused key, forgets an expired one or frees overdue holds.
--
-- Anomalies it prevents: the LOST UPDATE, as AtomicBook does; and the
-- DOUBLE BOOKING of one key, without reading the reservations' keys first.
-- A read could not be trusted: the statement's snapshot is taken before
-- the lock, so a duplicate that committed in between would be invisible to
-- it. The INSERT's uniqueness check is not bound to the snapshot: it sees
-- a committed key whenever it was committed, and undoes the booking. The
-- advisory lock is what keeps that check from waiting: only the lock's
-- holder writes a key, so no uncommitted key of another request can be in
-- the INSERT's way while this statement holds the hot row (without the
-- lock, a general-path request that had claimed the key and queued for the
-- row would deadlock with it). (The check of idempotency_keys has the
-- snapshot's blind instant: see "Not prevented" in idempotency.sql.)
WITH claim AS (
    SELECT pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(@key::text))
           AND NOT EXISTS (SELECT FROM idempotency_keys WHERE key = @key::text) AS claimed
), counter AS (
    UPDATE event_hotel_rooms
       SET reserved   = reserved + @rooms::integer,
           updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')
     WHERE event_id = @event_id::bigint
       AND hotel_id = @hotel_id::bigint
       AND @rooms::integer <= assigned - reserved - locked
       AND (SELECT claim.claimed FROM claim)
    RETURNING id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id,
                          idempotency_key, key_fingerprint, key_expires_at)
SELECT @name::text, counter.id, @rooms::integer, sqlc.narg('client_id')::bigint,
       @key::text, @fingerprint::text,
       clock_timestamp() + make_interval(secs => @ttl_seconds::integer)
  FROM counter
RETURNING id;
