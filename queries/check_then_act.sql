-- Anti-pattern "check-then-act": NOT A STRATEGY, and no booking path runs it.
-- It is the brief's first "atomic" idea, kept here by name so that
-- `evento explain --scenario check-then-act` can replay it with the very
-- SQL it would have run, next to the strategies that replaced it.
--
-- Steps, in one transaction:
--   1. CheckThenActRead: read what is left. No lock.
--   2. In Go: refuse if too few rooms are left.
--   3. CheckThenActBook: an UNCONDITIONAL increment, reserved = reserved + n,
--      and the reservation row.
--
-- Why it is wrong: the check (step 1) and the act (step 3) are two
-- statements, and nothing keeps step 1's answer true until step 3. Two
-- clients both read 2 rooms left, both decide 2 fit, both add 2. The
-- increment does not lose an update as naive's absolute write does, so the
-- counter and the rows agree, but the hotel is sold twice: under READ
-- COMMITTED only the schema's CHECK (reserved + locked <= assigned, a
-- safety net) stops the second write, with SQLSTATE 23514. Under REPEATABLE
-- READ the second writer finds the row changed since its snapshot and is
-- refused with 40001 (serialization_failure) instead. atomic.sql is the
-- fix: the check moves into the UPDATE's WHERE, one statement.

-- name: CheckThenActRead :one
-- CheckThenActRead is the check: what is left, as of this statement.
SELECT id,
       assigned - reserved - locked AS available
  FROM event_hotel_rooms
 WHERE event_id = @event_id
   AND hotel_id = @hotel_id;

-- name: CheckThenActBook :one
-- CheckThenActBook is the act: it adds the rooms whatever is left now.
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
