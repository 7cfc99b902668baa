-- Strategy "pessimistic": lock the hotel's row before reading it.
--
-- Steps, in one READ COMMITTED transaction:
--   1. LockHotelRooms: SELECT ... FOR UPDATE takes the row lock; a second
--      client asking for the same hotel waits here until the first commits,
--      and then reads the counter as the first one left it.
--   2. In Go: available = assigned - reserved - locked; refuse if too few.
--   3. PessimisticBook: increment the counter and insert the reservation.
--
-- Anomaly it prevents: the LOST UPDATE. Between step 1 and COMMIT nobody else
-- can change (or lock) the row, so the decision in step 2 is still true when
-- step 3 writes. Cost: clients of one hotel queue on one row lock for the
-- whole transaction, including every round trip between the statements.
-- The server keeps those to one: BEGIN goes out with step 1, and COMMIT
-- with step 3 (db/pipeline.go), so the row is locked from step 1 until
-- its answer has reached the server and step 3 has come back.

-- name: LockHotelRooms :one
-- LockHotelRooms reads one hotel's counters and holds the row lock until the
-- transaction ends.
SELECT id,
       assigned,
       reserved,
       locked
  FROM event_hotel_rooms
 WHERE event_id = @event_id
   AND hotel_id = @hotel_id
   FOR UPDATE;

-- name: PessimisticBook :one
-- PessimisticBook books rooms on a row no other booking can change until
-- this transaction ends: locked FOR UPDATE here, or guarded by the hotel's
-- key lock (advisory.sql).
WITH counter AS (
    UPDATE event_hotel_rooms
       SET reserved   = reserved + @rooms::integer,
           updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')
     WHERE event_hotel_rooms.id = @event_hotel_rooms_id
    RETURNING id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id)
SELECT @name::text, counter.id, @rooms::integer, sqlc.narg('client_id')::bigint
  FROM counter
RETURNING id;
