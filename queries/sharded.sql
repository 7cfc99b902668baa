-- Strategy "sharded": a hot hotel's rooms split across K bucket rows
-- (room_buckets, sql/00006_room_buckets.sql), so that K bookings for one
-- hotel can hold a row lock each at the same time, where every other
-- strategy queues them on the hotel's one row.
--
-- Steps, each statement a transaction of its own:
--   1. ShardedBook: take a bucket with room for the whole request and book
--      it: the first that no one else has locked (FOR UPDATE SKIP LOCKED),
--      or when every bucket with room is locked (more bookings in flight
--      than buckets), wait for ONE of them, picked at random so that
--      waiters spread over the buckets. If that one filled while it
--      waited, the answer is a conflict, which the client retries.
--   2. Only when no bucket has room for the whole request:
--      ShardedBookScattered locks ALL the hotel's buckets, waiting for
--      them, and books the request across several when their rooms add
--      up: the last rooms of a hotel end up scattered one or two a bucket,
--      and they must still sell.
--   3. Only when step 2 booked nothing: ShardedHotelRooms, to tell the client
--      whether the hotel is sold out, has too few rooms, or is unknown. A
--      hotel with no buckets is booked as atomic.sql does: its row is its
--      one bucket.
--
-- Anomalies it prevents:
--   * the LOST UPDATE, as atomic does, bucket by bucket: the row lock is
--     taken before the write, and under READ COMMITTED a locking read that
--     meets a row committed after its snapshot re-checks its WHERE on that
--     latest version (EvalPlanQual), so a bucket is only booked while the
--     rooms fit in its latest counter.
--   * a FALSE SOLD OUT, which SKIP LOCKED alone would cause: skipping the
--     buckets that are locked, or that have too few rooms each, says
--     nothing about the hotel. Step 1 waits when it found nothing free,
--     and step 2 waits for every bucket and decides from all of them, and
--     answers "sold out" only when their sum is 0.
--   * DEADLOCK: step 1 locks one bucket at most (see ShardedBook), and
--     step 2, which runs only when step 1 locked nothing, locks the
--     buckets in bucket order. With an idempotency key the steps share a
--     transaction, so a bucket step 1 waited for and found full would stay
--     locked while step 2 waits for the others, out of bucket order: a
--     cycle. That is why step 1 then answers a conflict instead.
-- Cost: step 2 serialises the hotel again, as one lock on every bucket;
-- it runs only when no single bucket can take the request, that is near
-- the end of the sale or for requests larger than a bucket.

-- name: ShardedBook :one
-- ShardedBook books rooms in one bucket that has room for them all: the
-- lowest-numbered that is not locked, or else a random one of those that
-- have room, all locked (COALESCE runs the second pick only when the first
-- found nothing). The second pick locks nothing: the UPDATE waits for that
-- one bucket and re-checks the condition on the version it waited for, and
-- books nothing if the bucket filled meanwhile. So a statement holds at
-- most one bucket: a locking read that waited for several, in random
-- order, would keep each one it passed over locked too, and two such
-- statements deadlock. It answers the bucket it picked (0: no bucket has
-- room for the whole request) and the reservation (0: the bucket it
-- waited for filled first, a conflict the client may retry; a bucket
-- it waited for stays locked until COMMIT, so the booking must not go on
-- to lock others in the same transaction).
WITH bucket AS (
    SELECT coalesce(
        (SELECT rb.id
           FROM room_buckets AS rb
           JOIN event_hotel_rooms AS ehr ON ehr.id = rb.event_hotel_rooms_id
          WHERE ehr.event_id = @event_id
            AND ehr.hotel_id = @hotel_id
            AND @rooms::integer <= rb.assigned - rb.reserved
          ORDER BY rb.bucket
          LIMIT 1
            FOR UPDATE OF rb SKIP LOCKED),
        (SELECT rb.id
           FROM room_buckets AS rb
           JOIN event_hotel_rooms AS ehr ON ehr.id = rb.event_hotel_rooms_id
          WHERE ehr.event_id = @event_id
            AND ehr.hotel_id = @hotel_id
            AND @rooms::integer <= rb.assigned - rb.reserved
          ORDER BY random()
          LIMIT 1)) AS id
), counter AS (
    UPDATE room_buckets AS rb
       SET reserved = rb.reserved + @rooms::integer
      FROM bucket
     WHERE rb.id = bucket.id
       AND @rooms::integer <= rb.assigned - rb.reserved
    RETURNING rb.event_hotel_rooms_id
), booked AS (
    INSERT INTO reservations (name, event_hotel_rooms_id, number)
    SELECT @name::text, counter.event_hotel_rooms_id, @rooms::integer
      FROM counter
    RETURNING id
)
SELECT coalesce(bucket.id, 0)::bigint AS bucket_id,
       coalesce((SELECT booked.id FROM booked), 0)::bigint AS reservation_id
  FROM bucket;

-- name: ShardedBookScattered :one
-- ShardedBookScattered books rooms across the hotel's buckets, lowest
-- bucket first, once it holds the lock of every one of them and their free
-- rooms add up to the request. The locking read returns each bucket as the
-- last transaction before it left it, so the sum is exact.
WITH request AS (
    SELECT @rooms::integer AS rooms
), buckets AS (
    SELECT rb.id, rb.bucket, rb.event_hotel_rooms_id, rb.assigned - rb.reserved AS free
      FROM room_buckets AS rb
      JOIN event_hotel_rooms AS ehr ON ehr.id = rb.event_hotel_rooms_id
     WHERE ehr.event_id = @event_id
       AND ehr.hotel_id = @hotel_id
     ORDER BY rb.bucket
       FOR UPDATE OF rb
), take AS (
    -- Each bucket gives what the lower ones left to take, at most its own.
    SELECT buckets.id,
           least(buckets.free,
                 greatest(request.rooms - (sum(buckets.free) OVER (ORDER BY buckets.bucket) - buckets.free), 0)) AS rooms
      FROM buckets
     CROSS JOIN request
     WHERE (SELECT sum(free) FROM buckets) >= request.rooms
), counter AS (
    UPDATE room_buckets AS rb
       SET reserved = rb.reserved + take.rooms
      FROM take
     WHERE rb.id = take.id
       AND take.rooms > 0
    RETURNING rb.event_hotel_rooms_id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number)
SELECT @name::text, min(counter.event_hotel_rooms_id), min(request.rooms)
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
-- ShardedBookKeyed is ShardedBook for a request with an idempotency key, as
-- ONE autocommit statement that also claims the key and stores the booking
-- as its outcome: atomic.sql's AtomicBookKeyed, whose comment says why each
-- step is safe, with ShardedBook's bucket in place of the hotel's row. It
-- takes the key's lock, without waiting, before it looks at a bucket, and
-- commits nothing unless it booked and stored; when no single bucket has
-- room, or the key is busy or used before, it does nothing and the request
-- takes the general path, which books across buckets or refuses, and
-- stores the outcome.
WITH claim AS (
    SELECT pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(@key::text)) AS locked
), bucket AS (
    SELECT coalesce(
        (SELECT rb.id
           FROM room_buckets AS rb
           JOIN event_hotel_rooms AS ehr ON ehr.id = rb.event_hotel_rooms_id
          WHERE ehr.event_id = @event_id::bigint
            AND ehr.hotel_id = @hotel_id::bigint
            AND @rooms::integer <= rb.assigned - rb.reserved
          ORDER BY rb.bucket
          LIMIT 1
            FOR UPDATE OF rb SKIP LOCKED),
        (SELECT rb.id
           FROM room_buckets AS rb
           JOIN event_hotel_rooms AS ehr ON ehr.id = rb.event_hotel_rooms_id
          WHERE ehr.event_id = @event_id::bigint
            AND ehr.hotel_id = @hotel_id::bigint
            AND @rooms::integer <= rb.assigned - rb.reserved
          ORDER BY random()
          LIMIT 1)) AS id
     WHERE (SELECT claim.locked FROM claim)
), counter AS (
    UPDATE room_buckets AS rb
       SET reserved = rb.reserved + @rooms::integer
      FROM bucket
     WHERE rb.id = bucket.id
       AND @rooms::integer <= rb.assigned - rb.reserved
    RETURNING rb.event_hotel_rooms_id
), booked AS (
    INSERT INTO reservations (name, event_hotel_rooms_id, number)
    SELECT @name::text, counter.event_hotel_rooms_id, @rooms::integer
      FROM counter
    RETURNING id
), stored AS (
    INSERT INTO idempotency_keys (key, fingerprint, outcome, expires_at)
    SELECT @key::text, @fingerprint::text,
           jsonb_build_object('value', jsonb_build_object(
               'ReservationID', booked.id,
               'EventID', @event_id::bigint,
               'HotelID', @hotel_id::bigint,
               'Name', @name::text,
               'Rooms', @rooms::integer)),
           clock_timestamp() + make_interval(secs => @ttl_seconds::integer)
      FROM booked
    RETURNING key
)
SELECT booked.id
  FROM booked
 CROSS JOIN stored;
