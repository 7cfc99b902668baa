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
-- ONE autocommit statement that also claims the key and stores the booking
-- as its outcome (the protocol of idempotency.sql, specialised). It runs
-- outside any transaction, so the statement's own transaction commits with
-- it and every lock it takes (the hotel's row, the key's advisory lock) is
-- held for this one statement only: no round trip to the server while the
-- hot row is locked, where the general path holds it through the outcome's
-- UPDATE and the COMMIT.
--   1. claim: try the key's advisory lock (the very lock the general
--      path's ClaimIdempotencyKeys takes), without waiting. The UPDATE's
--      condition on it is a one-time filter, so the lock is taken before
--      the hotel's row is read, let alone locked.
--   2. counter, booked: AtomicBook's conditional UPDATE and INSERT, only
--      when the key's lock was got.
--   3. stored: insert the key's row with the reservation's id as its
--      outcome, as the general path stores a booking: a replay rebuilds
--      the booking from the reservation (db/codec.go), so no JSON is
--      assembled here.
-- It returns the reservation's id, or no row when it did nothing: the key
-- is busy (another request holds its lock), or the rooms do not fit, or
-- the hotel is unknown. A key used before (or past its retention and not
-- yet swept) makes step 3 fail with unique_violation (23505) on
-- idempotency_keys' primary key, which undoes the whole statement, booking
-- included. In every one of those cases nothing is committed and the
-- request takes the general path, which waits, replays, refuses a reused
-- key, frees overdue holds or stores the refusal.
--
-- Anomalies it prevents: the LOST UPDATE, as AtomicBook does; and the
-- DOUBLE BOOKING of one key, without reading the key first. A read could
-- not be trusted: the statement's snapshot is taken before the lock, so a
-- duplicate that committed in between would be invisible to it. The
-- INSERT's uniqueness check is not bound to the snapshot: it sees a
-- committed row whenever it was committed, and undoes the booking. The
-- advisory lock is what keeps that check from waiting: only the lock's
-- holder inserts a key, so no uncommitted row of another request can be
-- in the INSERT's way while this statement holds the hot row (without the
-- lock, a general-path request that had claimed the key and queued for the
-- row would deadlock with it).
WITH claim AS (
    SELECT pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(@key::text)) AS locked
), counter AS (
    UPDATE event_hotel_rooms
       SET reserved   = reserved + @rooms::integer,
           updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')
     WHERE event_id = @event_id::bigint
       AND hotel_id = @hotel_id::bigint
       AND @rooms::integer <= assigned - reserved - locked
       AND (SELECT claim.locked FROM claim)
    RETURNING id
), booked AS (
    INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id)
    SELECT @name::text, counter.id, @rooms::integer, sqlc.narg('client_id')::bigint
      FROM counter
    RETURNING id
), stored AS (
    INSERT INTO idempotency_keys (key, fingerprint, reservation_id, expires_at)
    SELECT @key::text, @fingerprint::text, booked.id,
           clock_timestamp() + make_interval(secs => @ttl_seconds::integer)
      FROM booked
    RETURNING key
)
SELECT booked.id
  FROM booked
 CROSS JOIN stored;
