-- Strategy "advisory": a lock on a key, not on a row.
--
-- Steps, in one READ COMMITTED transaction:
--   1. LockHotelKey: pg_advisory_xact_lock on a key derived from the hotel's
--      event_hotel_rooms id. A second client of the same hotel waits here
--      until the first commits; the lock is released at COMMIT/ROLLBACK.
--   2. GetHotelRooms (rooms.sql): a plain read, fresh because it is taken
--      under the key lock.
--   3. In Go: available = assigned - reserved - locked; refuse if too few.
--   4. AtomicBook (atomic.sql): increment the counter and insert the
--      reservation only if the rooms still fit, re-checked in the write.
--
-- Anomaly it prevents: the LOST UPDATE, as pessimistic does, but the lock
-- guards a name the application chose rather than the row itself: the row
-- stays free for readers and for writers that do not take the key (holds,
-- confirms). That is why step 4 increments rather than writing an absolute
-- value, and why it re-checks: a hold may take the rooms between the read
-- and the write (evento explain's hold-vs-booking found it; an unconditional
-- increment then broke the CHECK, a 500). Among bookings the key still
-- does the work: none of them re-checks in vain. The same pattern guards
-- work that has no single row to lock.

-- name: LockHotelKey :one
-- LockHotelKey takes the hotel's advisory lock for the rest of the
-- transaction. The key puts the row id in Evento's own namespace (high 32
-- bits 0x45564e54, "EVNT") so it cannot collide with other advisory locks,
-- such as goose's migration lock.
SELECT ehr.id,
       pg_advisory_xact_lock((x'45564e54'::bigint << 32) | ehr.id)::text AS locked
  FROM event_hotel_rooms AS ehr
 WHERE ehr.event_id = @event_id
   AND ehr.hotel_id = @hotel_id;
