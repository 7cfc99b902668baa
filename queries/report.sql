-- What a run is judged on. The counter (reserved) and the rows
-- (reservations) are read in one statement snapshot, so they are compared
-- as of the same instant; a lost update shows as booked <> reserved.

-- name: HotelTotals :many
-- HotelTotals compares each hotel's counter with the sum of its rows. A
-- sharded hotel's counters are its row's plus its buckets'. A cancelled
-- reservation gave its rooms back to the counters: only live rows count.
SELECT ehr.event_id,
       ehr.hotel_id,
       h.name AS hotel_name,
       (ehr.assigned + coalesce(b.assigned, 0))::integer AS assigned,
       (ehr.reserved + coalesce(b.reserved, 0))::integer AS reserved,
       ehr.locked,
       coalesce(sum(r.number), 0)::bigint AS booked
  FROM event_hotel_rooms AS ehr
  JOIN hotels AS h ON h.id = ehr.hotel_id
  LEFT JOIN LATERAL (SELECT sum(rb.assigned) AS assigned, sum(rb.reserved) AS reserved
                       FROM room_buckets AS rb
                      WHERE rb.event_hotel_rooms_id = ehr.id) AS b ON true
  LEFT JOIN reservations AS r ON r.event_hotel_rooms_id = ehr.id AND r.cancelled_at IS NULL
 WHERE ehr.event_id = ANY (@event_ids::bigint[])
 GROUP BY ehr.id, h.name, b.assigned, b.reserved
 ORDER BY ehr.event_id, ehr.hotel_id;

-- name: ListEventReservations :many
-- ListEventReservations lists every live booking of the events (a
-- cancelled one is no longer booked), to check each acknowledged
-- reservation against the rows; with its owner (0: the anonymous client),
-- so that a load judges its own client's rows only.
SELECT r.id,
       ehr.event_id,
       ehr.hotel_id,
       r.number,
       coalesce(r.client_id, 0)::bigint AS client_id
  FROM reservations AS r
  JOIN event_hotel_rooms AS ehr ON ehr.id = r.event_hotel_rooms_id
 WHERE ehr.event_id = ANY (@event_ids::bigint[])
   AND r.cancelled_at IS NULL;

-- name: HoldTotals :many
-- HoldTotals counts each hotel's holds by fate. A 'held' hold past its
-- expiry counts as expired (it is dead), and only live holds may account
-- for locked rooms: locked - live_held_rooms is what leaked.
SELECT ehr.event_id,
       ehr.hotel_id,
       count(h.id) AS placed,
       count(h.id) FILTER (WHERE h.state = 'confirmed') AS confirmed,
       count(h.id) FILTER (WHERE h.state = 'released') AS released,
       count(h.id) FILTER (WHERE h.state = 'expired'
                              OR (h.state = 'held' AND h.expires_at <= clock_timestamp())) AS expired,
       count(h.id) FILTER (WHERE h.state = 'held' AND h.expires_at > clock_timestamp()) AS active,
       coalesce(sum(h.rooms) FILTER (WHERE h.state = 'held' AND h.expires_at > clock_timestamp()), 0)::bigint AS live_held_rooms
  FROM event_hotel_rooms AS ehr
  LEFT JOIN holds AS h ON h.event_hotel_rooms_id = ehr.id
 WHERE ehr.event_id = ANY (@event_ids::bigint[])
 GROUP BY ehr.id
 ORDER BY ehr.event_id, ehr.hotel_id;

-- name: LatestHoldExpiry :one
-- LatestHoldExpiry is when the events' last live hold expires (now when
-- there is none): a run waits for it, and for a sweep, before it judges.
SELECT coalesce(max(h.expires_at), clock_timestamp())::timestamptz AS expires_at
  FROM holds AS h
  JOIN event_hotel_rooms AS ehr ON ehr.id = h.event_hotel_rooms_id
 WHERE ehr.event_id = ANY (@event_ids::bigint[])
   AND h.state = 'held';

-- name: KeyedReservations :many
-- KeyedReservations reads, for each of the keys, the reservation stored as
-- its outcome (a key whose outcome is no booking, or that is not stored,
-- is absent): what the checker holds each client's answer against. A
-- booking is stored as its reservation's id; a confirmed hold's outcome
-- is db's JSON (codec.go), whose value carries its ReservationID,
-- as did a booking's before sql/00007. Since sql/00010 a booking's key is
-- on its reservation (older serializable bookings' in idempotency_keys).
SELECT key::text AS key,
       coalesce(reservation_id, (outcome -> 'value' ->> 'ReservationID')::bigint)::bigint AS reservation_id
  FROM idempotency_keys
 WHERE key = ANY (@keys::text[])
   AND (reservation_id IS NOT NULL OR outcome -> 'value' ? 'ReservationID')
UNION ALL
SELECT idempotency_key, id
  FROM reservations
 WHERE idempotency_key = ANY (@keys::text[]);

-- name: KeyedReservationsWithPrefix :many
-- KeyedReservationsWithPrefix reads every key that starts with the prefix
-- (a run's "<run id>-"), scoped to an API client ("c42:" + the key) or
-- not, and holds a booking, as KeyedReservations does: the keys a run's
-- clients used, whether or not its history names them. A scan of the
-- table and of the keyed reservations, for evento check only.
SELECT key::text AS key,
       coalesce(reservation_id, (outcome -> 'value' ->> 'ReservationID')::bigint)::bigint AS reservation_id
  FROM idempotency_keys
 WHERE starts_with(substr(key, strpos(key, ':') + 1), @prefix::text)
   AND (reservation_id IS NOT NULL OR outcome -> 'value' ? 'ReservationID')
UNION ALL
SELECT idempotency_key, id
  FROM reservations
 WHERE idempotency_key IS NOT NULL
   AND starts_with(substr(idempotency_key, strpos(idempotency_key, ':') + 1), @prefix::text);
