-- Strategy "optimistic": read without locking, then write only if nobody
-- wrote in between (compare-and-swap on updated_at).
--
-- Steps, with no explicit transaction (each statement is its own):
--   1. GetHotelRooms (rooms.sql): read the counters and updated_at. A
--      server skips this read when its own last swap of the hotel returned
--      the row and the rooms fit by it (db/versions.go): the swap in step 3
--      then tests that version, and a row changed since by anyone else
--      makes it lose as a stale read would.
--   2. In Go: available = assigned - reserved - locked; refuse if too few
--      (never from a remembered version: it reads first).
--   3. OptimisticBook: increment the counter and insert the reservation only
--      WHERE updated_at still equals the value of step 1. Zero rows
--      means another writer got there first: the server forgets the
--      version, waits a moment and starts again from step 1 with a read, a
--      few times (db/optimistic.go), then answers "conflict" and the
--      client retries.
--
-- Anomaly it prevents: the LOST UPDATE, by detecting it instead of blocking
-- it. The swap succeeds only on the exact row version step 2 judged, so the
-- availability check is still true when the write lands.
--
-- The stamp must change on EVERY write, or the swap is fooled. now() is the
-- transaction's start time: two writers can stamp the same value (or a clock
-- step backwards can repeat one), and a reader who saw that value would then
-- swap over a write it never saw. So every strategy's write stamps
-- greatest(clock_timestamp(), updated_at + 1 microsecond): strictly
-- increasing per row, whatever the clock does. Among committed versions
-- only: a stamp a rolled-back write took may come again, so a server
-- remembers no version a swap in a transaction returned.

-- name: OptimisticBook :one
-- OptimisticBook books rooms if the row is still the version the booking
-- judged. It returns the reservation's id and the row as the swap left it,
-- the version the server's next swap of the hotel starts from.
WITH counter AS (
    UPDATE event_hotel_rooms
       SET reserved   = reserved + @rooms::integer,
           updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')
     WHERE event_hotel_rooms.id = @event_hotel_rooms_id
       AND updated_at = @seen_updated_at
    RETURNING id, assigned, reserved, locked, updated_at
), booked AS (
    INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id)
    SELECT @name::text, counter.id, @rooms::integer, sqlc.narg('client_id')::bigint
      FROM counter
    RETURNING id
)
SELECT booked.id AS reservation_id, counter.id, counter.assigned, counter.reserved, counter.locked, counter.updated_at
  FROM booked, counter;

-- name: OptimisticBookKeyed :one
-- OptimisticBookKeyed is OptimisticBook for a request with an idempotency
-- key, as ONE autocommit statement that also claims the key and records it
-- on the reservation: AtomicBookKeyed's claim (atomic.sql), over
-- OptimisticBook's compare-and-swap instead of AtomicBook's condition. Step
-- 1 (GetHotelRooms) and step 2 run before it as they do without a key,
-- outside any transaction and locking nothing, so the key is still the
-- first thing this request locks.
--   1. claim: the key's advisory lock, tried without waiting, and no row of
--      the key in idempotency_keys; a one-time filter of the UPDATE, taken
--      before the hotel's row is locked.
--   2. counter, booked: the swap, only over the row version read and only
--      when the key was claimed; the reservation carries the key, its
--      fingerprint and the end of its retention.
-- It returns what OptimisticBook returns, or no row when it did nothing: the key
-- is busy or has a row in idempotency_keys, or another writer changed the
-- row since it was read (the swap lost). A key a booking used before undoes
-- the whole statement with unique_violation on
-- reservations_idempotency_key_idx. Nothing is committed in any of these
-- cases, and the request takes the general path, which waits, replays,
-- refuses a reused key, or reads and swaps again in a transaction that
-- holds the key (where a lost swap rolls that transaction back, releasing
-- the key, and is rerun after a backoff, then is the client's conflict to
-- retry, as without a key).
--
-- Anomalies it prevents: the LOST UPDATE, as OptimisticBook does (the swap
-- lands only on the version the availability check judged); and the
-- DOUBLE BOOKING of one key, as AtomicBookKeyed does (the key index's
-- uniqueness check, which no snapshot hides, and the advisory lock, which
-- keeps that check from waiting on another request's uncommitted key).
-- A lost swap costs one more read and swap on the general path, not a
-- conflict: the fast path never answers one.
WITH claim AS (
    SELECT pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(@key::text))
           AND NOT EXISTS (SELECT FROM idempotency_keys WHERE key = @key::text) AS claimed
), counter AS (
    UPDATE event_hotel_rooms
       SET reserved   = reserved + @rooms::integer,
           updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')
     WHERE event_hotel_rooms.id = @event_hotel_rooms_id::bigint
       AND updated_at = @seen_updated_at::timestamptz
       AND (SELECT claim.claimed FROM claim)
    RETURNING id, assigned, reserved, locked, updated_at
), booked AS (
    INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id,
                              idempotency_key, key_fingerprint, key_expires_at)
    SELECT @name::text, counter.id, @rooms::integer, sqlc.narg('client_id')::bigint,
           @key::text, @fingerprint::text,
           clock_timestamp() + make_interval(secs => @ttl_seconds::integer)
      FROM counter
    RETURNING id
)
SELECT booked.id AS reservation_id, counter.id, counter.assigned, counter.reserved, counter.locked, counter.updated_at
  FROM booked, counter;
