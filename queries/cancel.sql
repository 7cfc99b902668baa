-- Cancelling a reservation: its owner gives its rooms back.
--
-- The row stays, marked cancelled_at, and every reader that sums
-- reservations counts live ones only (report.sql, limits.sql), so the
-- hotel's counters and the sum of its rows stay equal. The owner check is
-- holds.sql's: another client's reservation, a missing one, and one of a
-- different hotel are the same "no rows", one 404.

-- name: CancelReservation :one
-- CancelReservation marks a live reservation cancelled and gives its rooms
-- back, in one statement. Where they go back: reservations do not record
-- which bucket a sharded booking took its rooms from (it may have taken
-- them from several), and nothing needs to know: a hotel's counters are its
-- row plus its buckets, so the rooms go back to the hotel's buckets, the
-- highest-numbered first (sharded books the lowest first), each giving
-- back at most what it has reserved, and whatever is left to the hotel's
-- row. A hotel without buckets gets them all back on its row. The buckets
-- are locked in bucket order, as ShardedBookScattered locks them (no
-- deadlock with it), and written from their locked versions; the hotel's
-- row is decremented by an amount, so a row version older than the one it
-- waited for can only show more rooms reserved (the CHECK holds on both).
-- A second cancel finds no live row: nothing changes (the caller tells a
-- cancelled reservation from a missing one with GetReservation).
WITH cancelled AS (
    UPDATE reservations AS r
       SET cancelled_at = clock_timestamp()
     WHERE r.id = @reservation_id
       AND r.client_id IS NOT DISTINCT FROM sqlc.narg('client_id')::bigint
       AND r.event_hotel_rooms_id = (
               SELECT ehr.id FROM event_hotel_rooms AS ehr
                WHERE ehr.event_id = @event_id AND ehr.hotel_id = @hotel_id)
       AND r.cancelled_at IS NULL
    RETURNING r.event_hotel_rooms_id, r.number
), buckets AS (
    SELECT rb.id, rb.bucket, rb.reserved
      FROM room_buckets AS rb
      JOIN cancelled ON cancelled.event_hotel_rooms_id = rb.event_hotel_rooms_id
     ORDER BY rb.bucket
       FOR UPDATE OF rb
), back AS (
    -- Each bucket takes back what the higher ones left, at most its own.
    SELECT buckets.id, buckets.reserved,
           least(buckets.reserved,
                 greatest(cancelled.number - (sum(buckets.reserved) OVER (ORDER BY buckets.bucket DESC) - buckets.reserved), 0)) AS rooms
      FROM buckets
     CROSS JOIN cancelled
), bucket_counters AS (
    UPDATE room_buckets AS rb
       SET reserved = back.reserved - back.rooms
      FROM back
     WHERE rb.id = back.id
       AND back.rooms > 0
    RETURNING rb.id
), counter AS (
    UPDATE event_hotel_rooms AS ehr
       SET reserved   = ehr.reserved - (cancelled.number - coalesce((SELECT sum(back.rooms) FROM back), 0))::integer,
           updated_at = greatest(clock_timestamp(), ehr.updated_at + interval '1 microsecond')
      FROM cancelled
     WHERE ehr.id = cancelled.event_hotel_rooms_id
    RETURNING ehr.id
)
SELECT cancelled.number
  FROM cancelled
 CROSS JOIN counter;

-- name: GetReservation :one
-- GetReservation reads one of the client's reservations at a hotel of an
-- event, cancelled or not: what a cancel that changed nothing answers from.
SELECT r.id, r.number, r.cancelled_at
  FROM reservations AS r
  JOIN event_hotel_rooms AS ehr ON ehr.id = r.event_hotel_rooms_id
 WHERE r.id = @reservation_id
   AND r.client_id IS NOT DISTINCT FROM sqlc.narg('client_id')::bigint
   AND ehr.event_id = @event_id
   AND ehr.hotel_id = @hotel_id;
