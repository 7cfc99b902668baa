-- Reads of a hotel's room counters. None of these lock anything: they are a
-- snapshot that may be stale by the time the caller acts on it, which is
-- exactly why the naive strategy overbooks and why every safe strategy either
-- locks (pessimistic.sql), re-checks inside its write (atomic.sql) or
-- detects a change since the read (optimistic.sql).

-- name: GetHotelRooms :one
-- GetHotelRooms reads one hotel's counters for an event.
SELECT ehr.id,
       ehr.event_id,
       ehr.hotel_id,
       h.name AS hotel_name,
       ehr.assigned,
       ehr.reserved,
       ehr.locked,
       ehr.updated_at
  FROM event_hotel_rooms AS ehr
  JOIN hotels AS h ON h.id = ehr.hotel_id
 WHERE ehr.event_id = @event_id
   AND ehr.hotel_id = @hotel_id;

-- name: GetHotelAvailability :one
-- GetHotelAvailability is what clients are shown. Unlike GetHotelRooms, it
-- does not count rooms of holds past their expiry, even before a sweeper
-- has given them back: the next booking that needs them will (see
-- ExpireHotelHolds in holds.sql).
SELECT ehr.event_id,
       ehr.hotel_id,
       h.name AS hotel_name,
       ehr.assigned,
       ehr.reserved,
       ehr.locked - coalesce((SELECT sum(o.rooms) FROM holds AS o
                               WHERE o.event_hotel_rooms_id = ehr.id
                                 AND o.state = 'held'
                                 AND o.expires_at <= clock_timestamp()), 0)::integer AS locked
  FROM event_hotel_rooms AS ehr
  JOIN hotels AS h ON h.id = ehr.hotel_id
 WHERE ehr.event_id = @event_id
   AND ehr.hotel_id = @hotel_id;

-- name: ListEventAvailability :many
-- ListEventAvailability is GetHotelAvailability for every hotel of an event.
SELECT ehr.event_id,
       ehr.hotel_id,
       h.name AS hotel_name,
       ehr.assigned,
       ehr.reserved,
       ehr.locked - coalesce((SELECT sum(o.rooms) FROM holds AS o
                               WHERE o.event_hotel_rooms_id = ehr.id
                                 AND o.state = 'held'
                                 AND o.expires_at <= clock_timestamp()), 0)::integer AS locked
  FROM event_hotel_rooms AS ehr
  JOIN hotels AS h ON h.id = ehr.hotel_id
 WHERE ehr.event_id = @event_id
 ORDER BY ehr.hotel_id;

-- name: EventExists :one
SELECT EXISTS (SELECT 1 FROM events WHERE id = @event_id);
