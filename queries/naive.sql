-- Strategy "naive": no concurrency control at all. UNSAFE BY DESIGN.
--
-- Steps, in one READ COMMITTED transaction:
--   1. GetHotelRooms (rooms.sql): read reserved, locked, assigned. No lock.
--   2. In Go: available = assigned - reserved - locked; refuse if too few.
--   3. NaiveBook: write the NEW ABSOLUTE counter computed in step 2 and
--      insert the reservation.
--
-- Anomaly it lets through: the LOST UPDATE. Two clients both read
-- reserved = 0 from a 5-room hotel, both decide 5 rooms fit, both write
-- reserved = 5. The second write silently erases the first; the counter says
-- 5 while reservations holds 10 rooms. The transaction does not help: READ
-- COMMITTED lets each statement see the latest committed data, and nothing
-- ties step 3 to what step 1 saw. Every other strategy closes this gap.

-- name: NaiveBook :one
-- NaiveBook overwrites the counter with a value computed from a stale read.
WITH counter AS (
    UPDATE event_hotel_rooms
       SET reserved   = @new_reserved::integer,
           updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')
     WHERE event_hotel_rooms.id = @event_hotel_rooms_id
    RETURNING id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id)
SELECT @name::text, counter.id, @rooms::integer, sqlc.narg('client_id')::bigint
  FROM counter
RETURNING id;
