-- Strategy "sharded": a hot hotel's rooms split across K bucket rows
-- (room_buckets, sql/00006_room_buckets.sql), so that K bookings for one
-- hotel can hold a row lock each at the same time, where every other
-- strategy queues them on the hotel's one row.
--
-- Steps, each statement a transaction of its own:
--   1. ShardedBookFree: book the first bucket with room for the whole
--      request that no one else has locked (FOR UPDATE SKIP LOCKED).
--   2. Only when it found none: ShardedBookWaiting, when every bucket with
--      room is locked (more bookings in flight than buckets): wait for ONE
--      of them, picked at random so that waiters spread over the buckets.
--   3. Only when neither booked (no bucket has room for the whole request,
--      or the one waited for filled first): ShardedBookScattered locks ALL
--      the hotel's buckets, waiting for them, and books the request across
--      several when their rooms add up: the last rooms of a hotel end up
--      scattered one or two a bucket, and they must still sell.
--   4. Only when step 3 booked nothing: ShardedHotelRooms, to tell the
--      client whether the hotel is sold out, has too few rooms, or is
--      unknown. A hotel with no buckets is booked as atomic.sql does: its
--      row is its one bucket.
-- With an idempotency key the steps share one transaction; each of steps
-- 1 and 2 then runs in a savepoint, rolled back when it booked nothing.
--
-- Anomalies it prevents:
--   * the LOST UPDATE, as atomic does, bucket by bucket: the row lock is
--     taken before the write, and under READ COMMITTED a locking read that
--     meets a row committed after its snapshot re-checks its WHERE on that
--     latest version (EvalPlanQual), so a bucket is only booked while the
--     rooms fit in its latest counter.
--   * a FALSE SOLD OUT, which SKIP LOCKED alone would cause: skipping the
--     buckets that are locked, or that have too few rooms each, says
--     nothing about the hotel. Step 2 waits instead of skipping, and step
--     3 waits for every bucket and decides from all of them, and answers
--     "sold out" only when their sum is 0.
--   * DEADLOCK: a booking never waits while it holds a bucket. Step 1
--     never waits; step 2 waits for one bucket; step 3 waits for buckets
--     in bucket order. What step 1 may leave locked (a bucket filled since
--     its snapshot, rejected by its re-check but kept locked) is given back
--     before step 2: the statement ends (autocommit), or its savepoint is
--     rolled back (in a transaction), which releases the row locks taken
--     in it. Step 2 likewise before step 3.
-- Cost: step 2 serialises the hotel again, as one lock on every bucket;
-- it runs only when no single bucket can take the request, that is near
-- the end of the sale or for requests larger than a bucket.

-- name: ShardedBookFree :one
-- ShardedBookFree books rooms in the lowest-numbered bucket that has room
-- for them all and that no one else has locked; it never waits. A bucket
-- filled since the statement's snapshot is locked, re-checked on its
-- latest version and passed over, and stays locked to the end of the
-- transaction (PostgreSQL keeps a row a locking read locked even when the
-- re-check rejects it): the Go code gives such locks back before it waits
-- for anything (see db/sharded.go). The UPDATE repeats the condition: it
-- is what the write itself guarantees, whatever the locking read saw.
WITH bucket AS (
    SELECT rb.id
      FROM room_buckets AS rb
      JOIN event_hotel_rooms AS ehr ON ehr.id = rb.event_hotel_rooms_id
     WHERE ehr.event_id = @event_id
       AND ehr.hotel_id = @hotel_id
       AND @rooms::integer <= rb.assigned - rb.reserved
     ORDER BY rb.bucket
     LIMIT 1
       FOR UPDATE OF rb SKIP LOCKED
), counter AS (
    UPDATE room_buckets AS rb
       SET reserved = rb.reserved + @rooms::integer
      FROM bucket
     WHERE rb.id = bucket.id
       AND @rooms::integer <= rb.assigned - rb.reserved
    RETURNING rb.event_hotel_rooms_id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id)
SELECT @name::text, counter.event_hotel_rooms_id, @rooms::integer, sqlc.narg('client_id')::bigint
  FROM counter
RETURNING id;

-- name: ShardedBookWaiting :one
-- ShardedBookWaiting is ShardedBookFree for when every bucket with room is
-- locked: it picks one of them at random, so that waiters spread over the
-- buckets, without locking it; its UPDATE waits for that one bucket and
-- books only if the rooms still fit in the version it waited for. So it
-- waits for one row and holds at most that one.
WITH bucket AS (
    SELECT rb.id
      FROM room_buckets AS rb
      JOIN event_hotel_rooms AS ehr ON ehr.id = rb.event_hotel_rooms_id
     WHERE ehr.event_id = @event_id
       AND ehr.hotel_id = @hotel_id
       AND @rooms::integer <= rb.assigned - rb.reserved
     ORDER BY random()
     LIMIT 1
), counter AS (
    UPDATE room_buckets AS rb
       SET reserved = rb.reserved + @rooms::integer
      FROM bucket
     WHERE rb.id = bucket.id
       AND @rooms::integer <= rb.assigned - rb.reserved
    RETURNING rb.event_hotel_rooms_id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id)
SELECT @name::text, counter.event_hotel_rooms_id, @rooms::integer, sqlc.narg('client_id')::bigint
  FROM counter
RETURNING id;

-- name: ShardedBookScattered :one
-- ShardedBookScattered books rooms across the hotel's buckets, lowest
-- bucket first, once it holds the lock of every one of them and their free
-- rooms add up to the request. The locking read returns each bucket as the
-- last transaction before it left it, so the sum is exact. The UPDATE
-- writes the counter from that locked version too, not from the version
-- its own scan finds: PostgreSQL checks the CHECK on a tentative row built
-- from the latter, possibly older one, before it re-reads the row (see
-- batched.sql). Bucket counters only grow today, so the older one could
-- only be lower; writing from the locked row keeps that from mattering
-- the day a booking can be cancelled.
WITH request AS (
    SELECT @rooms::integer AS rooms
), buckets AS (
    SELECT rb.id, rb.bucket, rb.event_hotel_rooms_id, rb.reserved, rb.assigned - rb.reserved AS free
      FROM room_buckets AS rb
      JOIN event_hotel_rooms AS ehr ON ehr.id = rb.event_hotel_rooms_id
     WHERE ehr.event_id = @event_id
       AND ehr.hotel_id = @hotel_id
     ORDER BY rb.bucket
       FOR UPDATE OF rb
), take AS (
    -- Each bucket gives what the lower ones left to take, at most its own.
    SELECT buckets.id, buckets.reserved,
           least(buckets.free,
                 greatest(request.rooms - (sum(buckets.free) OVER (ORDER BY buckets.bucket) - buckets.free), 0)) AS rooms
      FROM buckets
     CROSS JOIN request
     WHERE (SELECT sum(free) FROM buckets) >= request.rooms
), counter AS (
    UPDATE room_buckets AS rb
       SET reserved = take.reserved + take.rooms
      FROM take
     WHERE rb.id = take.id
       AND take.rooms > 0
    RETURNING rb.event_hotel_rooms_id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id)
SELECT @name::text, min(counter.event_hotel_rooms_id), min(request.rooms), sqlc.narg('client_id')::bigint
  FROM counter
 CROSS JOIN request
HAVING count(*) > 0
RETURNING id;

-- name: ShardedHotelRooms :one
-- ShardedHotelRooms reads what a sharded booking can take: the free rooms
-- in the hotel's buckets, and how many buckets it has.
SELECT coalesce(sum(rb.assigned - rb.reserved), 0)::integer AS free,
       count(rb.id) AS buckets
  FROM event_hotel_rooms AS ehr
  LEFT JOIN room_buckets AS rb ON rb.event_hotel_rooms_id = ehr.id
 WHERE ehr.event_id = @event_id
   AND ehr.hotel_id = @hotel_id
 GROUP BY ehr.id;

-- name: ShardedBookKeyed :one
-- ShardedBookKeyed is ShardedBookFree for a request with an idempotency
-- key, as ONE autocommit statement that also claims the key and records
-- it on the reservation: atomic.sql's AtomicBookKeyed, whose comment says
-- why each step is safe, with a bucket in place of the hotel's row. It
-- takes the key's lock, without waiting, before it looks at a bucket, and
-- commits nothing unless it booked.
WITH claim AS (
    SELECT pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(@key::text))
           AND NOT EXISTS (SELECT FROM idempotency_keys WHERE key = @key::text) AS claimed
), bucket AS (
    SELECT rb.id
      FROM room_buckets AS rb
      JOIN event_hotel_rooms AS ehr ON ehr.id = rb.event_hotel_rooms_id
     WHERE ehr.event_id = @event_id::bigint
       AND ehr.hotel_id = @hotel_id::bigint
       AND @rooms::integer <= rb.assigned - rb.reserved
       AND (SELECT claim.claimed FROM claim)
     ORDER BY rb.bucket
     LIMIT 1
       FOR UPDATE OF rb SKIP LOCKED
), counter AS (
    UPDATE room_buckets AS rb
       SET reserved = rb.reserved + @rooms::integer
      FROM bucket
     WHERE rb.id = bucket.id
       AND @rooms::integer <= rb.assigned - rb.reserved
    RETURNING rb.event_hotel_rooms_id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id,
                          idempotency_key, key_fingerprint, key_expires_at)
SELECT @name::text, counter.event_hotel_rooms_id, @rooms::integer, sqlc.narg('client_id')::bigint,
       @key::text, @fingerprint::text,
       clock_timestamp() + make_interval(secs => @ttl_seconds::integer)
  FROM counter
RETURNING id;

-- name: ShardedBookKeyedWaiting :one
-- ShardedBookKeyedWaiting is ShardedBookWaiting for a request with an
-- idempotency key, as ShardedBookKeyed is ShardedBookFree: run only after
-- ShardedBookKeyed found no free bucket, as a statement of its own, so
-- that it holds no bucket but the one it waits for. When neither booked
-- (no bucket has room for the whole request, or the key is busy or used
-- before), the request takes the general path, which books across
-- buckets or refuses, and stores the outcome.
WITH claim AS (
    SELECT pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(@key::text))
           AND NOT EXISTS (SELECT FROM idempotency_keys WHERE key = @key::text) AS claimed
), bucket AS (
    SELECT rb.id
      FROM room_buckets AS rb
      JOIN event_hotel_rooms AS ehr ON ehr.id = rb.event_hotel_rooms_id
     WHERE ehr.event_id = @event_id::bigint
       AND ehr.hotel_id = @hotel_id::bigint
       AND @rooms::integer <= rb.assigned - rb.reserved
       AND (SELECT claim.claimed FROM claim)
     ORDER BY random()
     LIMIT 1
), counter AS (
    UPDATE room_buckets AS rb
       SET reserved = rb.reserved + @rooms::integer
      FROM bucket
     WHERE rb.id = bucket.id
       AND @rooms::integer <= rb.assigned - rb.reserved
    RETURNING rb.event_hotel_rooms_id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id,
                          idempotency_key, key_fingerprint, key_expires_at)
SELECT @name::text, counter.event_hotel_rooms_id, @rooms::integer, sqlc.narg('client_id')::bigint,
       @key::text, @fingerprint::text,
       clock_timestamp() + make_interval(secs => @ttl_seconds::integer)
  FROM counter
RETURNING id;
