-- The per-client purchase limit: how many rooms one client may have at one
-- event, booked or held (serve --max-rooms-per-client, or the client's own
-- api_clients.max_rooms_per_event). It is the write engine's step before a
-- booking or a hold of a client with a limit (db/limits.go), in the SAME
-- transaction, whatever the strategy: lock, count, then book.
--
-- Why a lock and a count, and not a counter of the client's rooms: the
-- count is read from the rows themselves (live reservations and live
-- holds), so a cancel, a released hold and an expired hold give the
-- allowance back by being what they are, with no second copy to keep in
-- step in every statement that ends a hold or a reservation (and none to
-- drift, or to rebuild when a client's limit is set later).
--
-- Anomaly it prevents: WRITE SKEW across hotels. Two bookings of one
-- client at two hotels of one event lock different hotel rows; each would
-- count the client's rooms without the other's and both pass. The lock
-- makes the second wait until the first commits or rolls back; its count,
-- a new statement under READ COMMITTED, then sees the first's rows. Under
-- SERIALIZABLE (strategy serializable) the count's snapshot may be older
-- than the lock, and PostgreSQL's SSI is what refuses the second (a read
-- of the client's rows that the first wrote into: 40001, rerun).

-- name: LockClientEvent :many
-- LockClientEvent takes, for the rest of the transaction, the lock of each
-- client at the event (an advisory lock in its own namespace, x'45564345'
-- "EVCE", keyed by a hash of client and event: two pairs that share a hash
-- share a lock, which costs a wait and never a wrong count). A batch takes
-- its clients' locks in one statement in the order of their keys, as every
-- other batch does, so two batches never wait for each other in a cycle;
-- and every writer takes them before the hotel's row or buckets.
SELECT k.key, pg_advisory_xact_lock(x'45564345'::integer, k.key)::text AS locked
  FROM (SELECT DISTINCT hashtext(format('%s:%s', c.id, @event_id::bigint)) AS key
          FROM unnest(@client_ids::bigint[]) AS c (id)
         ORDER BY 1) AS k;

-- name: ClientEventRooms :many
-- ClientEventRooms is how many rooms each client has at the event: its live
-- reservations and its live holds (a hold confirmed is a reservation, and
-- counts once), at any of the event's hotels. Read under LockClientEvent.
SELECT c.id::bigint AS client_id,
       (coalesce((SELECT sum(r.number)
                    FROM reservations AS r
                    JOIN event_hotel_rooms AS ehr ON ehr.id = r.event_hotel_rooms_id
                   WHERE r.client_id = c.id
                     AND r.cancelled_at IS NULL
                     AND ehr.event_id = @event_id::bigint), 0)
      + coalesce((SELECT sum(h.rooms)
                    FROM holds AS h
                    JOIN event_hotel_rooms AS ehr ON ehr.id = h.event_hotel_rooms_id
                   WHERE h.client_id = c.id
                     AND h.state = 'held'
                     AND h.expires_at > clock_timestamp()
                     AND ehr.event_id = @event_id::bigint), 0))::integer AS rooms
  FROM unnest(@client_ids::bigint[]) AS c (id);
