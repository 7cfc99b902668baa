-- Reads of a hotel's room counters. None of these lock anything: they are a
-- snapshot that may be stale by the time the caller acts on it, which is
-- exactly why the naive strategy overbooks and why every safe strategy either
-- locks (pessimistic.sql), re-checks inside its write (atomic.sql) or
-- detects a change since the read (optimistic.sql).

-- name: GetHotelRooms :one
-- GetHotelRooms reads one hotel's counters for an event: what strategies
-- decide from (and optimistic's updated_at), nothing more, on the hot path.
SELECT id,
       assigned,
       reserved,
       locked,
       updated_at
  FROM event_hotel_rooms
 WHERE event_id = @event_id
   AND hotel_id = @hotel_id;

-- name: GetHotelAvailability :one
-- GetHotelAvailability is what clients are shown (the hotel_availability
-- view: overdue holds do not count), not what strategies decide from.
SELECT event_id, hotel_id, hotel_name, assigned, reserved, locked
  FROM hotel_availability
 WHERE event_id = @event_id
   AND hotel_id = @hotel_id;

-- name: ListEventAvailability :many
-- ListEventAvailability is GetHotelAvailability for every hotel of an event.
SELECT event_id, hotel_id, hotel_name, assigned, reserved, locked
  FROM hotel_availability
 WHERE event_id = @event_id
 ORDER BY hotel_id;

-- name: EventExists :one
SELECT EXISTS (SELECT 1 FROM events WHERE id = @event_id);
