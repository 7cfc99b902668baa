-- What a run is judged on. The counter (reserved) and the rows
-- (reservations) are read in one statement snapshot, so they are compared
-- as of the same instant; a lost update shows as booked <> reserved.

-- name: HotelTotals :many
-- HotelTotals compares each hotel's counter with the sum of its rows.
SELECT ehr.event_id,
       ehr.hotel_id,
       h.name AS hotel_name,
       ehr.assigned,
       ehr.reserved,
       ehr.locked,
       coalesce(sum(r.number), 0)::bigint AS booked
  FROM event_hotel_rooms AS ehr
  JOIN hotels AS h ON h.id = ehr.hotel_id
  LEFT JOIN reservations AS r ON r.event_hotel_rooms_id = ehr.id
 WHERE ehr.event_id = ANY (@event_ids::bigint[])
 GROUP BY ehr.id, h.name
 ORDER BY ehr.event_id, ehr.hotel_id;

-- name: ListEventReservations :many
-- ListEventReservations lists every booking of the events, to check each
-- acknowledged reservation against the rows.
SELECT r.id,
       ehr.event_id,
       ehr.hotel_id,
       r.number
  FROM reservations AS r
  JOIN event_hotel_rooms AS ehr ON ehr.id = r.event_hotel_rooms_id
 WHERE ehr.event_id = ANY (@event_ids::bigint[]);
