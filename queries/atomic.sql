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
INSERT INTO reservations (name, event_hotel_rooms_id, number)
SELECT @name::text, counter.id, @rooms::integer
  FROM counter
RETURNING id;
