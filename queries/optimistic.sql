-- Strategy "optimistic": read without locking, then write only if nobody
-- wrote in between (compare-and-swap on updated_at).
--
-- Steps, with no explicit transaction (each statement is its own):
--   1. GetHotelRooms (rooms.sql): read the counters and updated_at.
--   2. In Go: available = assigned - reserved - locked; refuse if too few.
--   3. OptimisticBook: increment the counter and insert the reservation only
--      WHERE updated_at still equals the value read in step 1. Zero rows
--      means another writer got there first: the server answers "conflict"
--      and the client retries from step 1.
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
-- increasing per row, whatever the clock does.

-- name: OptimisticBook :one
-- OptimisticBook books rooms if the row is still the version that was read.
WITH counter AS (
    UPDATE event_hotel_rooms
       SET reserved   = reserved + @rooms::integer,
           updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')
     WHERE event_hotel_rooms.id = @event_hotel_rooms_id
       AND updated_at = @seen_updated_at
    RETURNING id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, client_id)
SELECT @name::text, counter.id, @rooms::integer, sqlc.narg('client_id')::bigint
  FROM counter
RETURNING id;
