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
