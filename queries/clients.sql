-- API clients (--auth keys): who may call the API, known by the hash of
-- their key. The key itself is never stored: a leaked table leaks no key.

-- name: CreateClient :one
INSERT INTO api_clients (name, key_hash, max_held_rooms, max_rooms_per_event)
VALUES (@name::text, @key_hash::bytea, sqlc.narg('max_held_rooms')::integer, sqlc.narg('max_rooms_per_event')::integer)
RETURNING id, created_at;

-- name: ClientByKeyHash :one
-- ClientByKeyHash authenticates: a revoked client's key finds nothing, as
-- an unknown key does, so the answer says nothing about which it was.
SELECT id, name, max_held_rooms, max_rooms_per_event
  FROM api_clients
 WHERE key_hash = @key_hash::bytea
   AND revoked_at IS NULL;

-- name: ListClients :many
SELECT c.id, c.name, c.max_held_rooms, c.max_rooms_per_event, c.created_at, c.revoked_at,
       (SELECT coalesce(sum(h.rooms), 0)::integer
          FROM holds AS h
         WHERE h.client_id = c.id AND h.state = 'held' AND h.expires_at > clock_timestamp()) AS held_rooms
  FROM api_clients AS c
 ORDER BY c.name;

-- name: RevokeClient :one
-- RevokeClient stops a key at once on every server that does not cache it
-- (servers cache a key for at most a few seconds; see api's auth), and
-- gives the client's held rooms back in the same statement: a revoked
-- client's holds would otherwise keep rooms from everyone for their full
-- TTL. Each hold leaves 'held' only WHERE it still is (holds.sql's
-- invariant), so a confirm that won the row first keeps its reservation.
-- revoked is 0 when no live client has that name (and nothing is freed).
WITH revoked AS (
    UPDATE api_clients
       SET revoked_at = clock_timestamp()
     WHERE name = @name::text
       AND revoked_at IS NULL
    RETURNING id
), released AS (
    UPDATE holds
       SET state = 'released', settled_at = clock_timestamp()
     WHERE holds.client_id IN (SELECT revoked.id FROM revoked)
       AND holds.state = 'held'
    RETURNING holds.event_hotel_rooms_id, holds.rooms
), freed AS (
    SELECT released.event_hotel_rooms_id, sum(released.rooms)::integer AS rooms
      FROM released
     GROUP BY released.event_hotel_rooms_id
), counter AS (
    UPDATE event_hotel_rooms AS ehr
       SET locked     = ehr.locked - freed.rooms,
           updated_at = greatest(clock_timestamp(), ehr.updated_at + interval '1 microsecond')
      FROM freed
     WHERE ehr.id = freed.event_hotel_rooms_id
    RETURNING freed.rooms
)
SELECT (SELECT count(*) FROM revoked)::integer AS revoked,
       coalesce((SELECT sum(counter.rooms) FROM counter), 0)::integer AS rooms_released;
