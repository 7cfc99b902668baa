-- Seeding only ever adds: a new event, new hotels and their room counts.
-- Earlier runs' data stays, so reports filter by event.

-- name: CreateEvent :one
INSERT INTO events (name) VALUES (@name) RETURNING id;

-- name: CreateHotel :one
INSERT INTO hotels (name) VALUES (@name) RETURNING id;

-- name: AssignRooms :one
INSERT INTO event_hotel_rooms (event_id, hotel_id, assigned)
VALUES (@event_id, @hotel_id, @assigned)
RETURNING id;

-- name: SplitIntoBuckets :exec
-- SplitIntoBuckets moves a hotel's free rooms out of its row into
-- @buckets bucket rows (see sql/00006_room_buckets.sql), as evenly as they
-- divide: the first (free mod buckets) buckets get one room more.
WITH split AS (
    SELECT @buckets::integer AS buckets
), hotel AS (
    SELECT ehr.id, ehr.assigned - ehr.reserved - ehr.locked AS free
      FROM event_hotel_rooms AS ehr
     WHERE ehr.id = @event_hotel_rooms_id
       FOR UPDATE
), moved AS (
    UPDATE event_hotel_rooms AS ehr
       SET assigned = ehr.assigned - hotel.free
      FROM hotel
     WHERE ehr.id = hotel.id
    RETURNING ehr.id
)
INSERT INTO room_buckets (event_hotel_rooms_id, bucket, assigned)
SELECT hotel.id, b.n, hotel.free / split.buckets + (b.n <= hotel.free % split.buckets)::integer
  FROM hotel
 CROSS JOIN moved
 CROSS JOIN split
 CROSS JOIN generate_series(1, split.buckets) AS b (n);
