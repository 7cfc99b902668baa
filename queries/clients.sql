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

-- name: RevokeClient :execrows
-- RevokeClient stops a key at once on every server that does not cache it
-- (servers cache a key for at most a few seconds; see api's auth). The
-- client's holds stay theirs, and expire as usual.
UPDATE api_clients
   SET revoked_at = clock_timestamp()
 WHERE name = @name::text
   AND revoked_at IS NULL;
