-- Room holds: rooms taken out of the pool while a customer pays, then
-- confirmed into a reservation, released, or left to expire.
--
-- Invariant kept by every statement here, with any number of servers:
--     event_hotel_rooms.locked = sum(rooms) of the hotel's holds in 'held'
-- Each statement moves a hold out of 'held' and adjusts locked in the SAME
-- statement, and moves it only WHERE state = 'held': the first writer to
-- lock the hold's row wins, and every other writer, re-checking its WHERE on
-- the committed row (EvalPlanQual), finds it no longer 'held' and changes
-- nothing. That is why a confirm racing an expiry or a release has exactly
-- one winner, and why two sweepers never release a hold twice.

-- Who may touch a hold: the client that placed it (holds.client_id, NULL
-- for the anonymous client of a server without --auth), by its handle, a
-- 128-bit random string. Every statement that addresses one hold matches
-- all three of hotel, handle and owner, so another client's hold, a wrong
-- handle and a missing hold are the same "no rows": one 404, nothing to
-- learn from walking handles or ids.

-- name: LockClientHolds :one
-- LockClientHolds serialises one client's holds for the rest of the
-- transaction, on every server (an advisory lock in its own namespace,
-- bits 0x45564843 "EVHC", beside the hotel keys of advisory.sql). The cap
-- on rooms a client holds at once is a check then an insert, across
-- hotels: without the lock two holds of the same client at two hotels
-- would each see the other's rooms missing and both pass (write skew).
-- With it, the second waits, and its ClientHeldRooms, a new statement
-- under READ COMMITTED, sees the first one's committed hold.
SELECT pg_advisory_xact_lock((x'45564843'::bigint << 32) | coalesce(sqlc.narg('client_id')::bigint, 0))::text AS locked;

-- name: HoldCooldownUntil :one
-- HoldCooldownUntil is when the client may hold at this hotel again: the
-- newest end of its holds there (a release, or an expiry whether swept or
-- not) plus the cooldown, and whether that is still to come (by the
-- database's clock, the one every server shares). The cap
-- bounds how many rooms a client holds, this bounds for how long: without
-- it, release and re-hold every few seconds kept rooms held for ever, and
-- whoever waited for them (Retry-After) found them taken again. Read in the
-- hold's own transaction, so it holds on every server; a hold placed while
-- a release of the same client commits counts as placed before it, which
-- the bound allows (docs/security.md).
SELECT c.until, (c.until > clock_timestamp())::boolean AS cooling
  FROM (SELECT coalesce(max(least(h.settled_at, h.expires_at))
                        + make_interval(secs => @cooldown_seconds::double precision),
                        clock_timestamp())::timestamptz AS until
          FROM holds AS h
         WHERE coalesce(h.client_id, 0) = coalesce(sqlc.narg('client_id')::bigint, 0)
           AND h.event_hotel_rooms_id = (
                   SELECT ehr.id FROM event_hotel_rooms AS ehr
                    WHERE ehr.event_id = @event_id AND ehr.hotel_id = @hotel_id)
           AND h.state IN ('held', 'released', 'expired')
           AND least(h.settled_at, h.expires_at) <= clock_timestamp()
           AND least(h.settled_at, h.expires_at)
               > clock_timestamp() - make_interval(secs => @cooldown_seconds::double precision)) AS c;

-- name: ClientHeldRooms :one
-- ClientHeldRooms is how many rooms a client holds right now, in live holds
-- of any hotel: what the cap is checked against, under LockClientHolds.
SELECT coalesce(sum(h.rooms), 0)::integer AS rooms
  FROM holds AS h
 WHERE h.client_id IS NOT DISTINCT FROM sqlc.narg('client_id')::bigint
   AND h.state = 'held'
   AND h.expires_at > clock_timestamp();

-- name: HotelRoomsOutOfReach :one
-- HotelRoomsOutOfReach tells a request refused for lack of rooms where the
-- rooms it lacks are, when they are not free in the hotel's row:
--   * rooms: in live holds. They come back when their holds expire or are
--     released, so the answer is "wait" (rooms_held) and not "sold out",
--     which tells a client to stop. Read after the refusal and after
--     overdue holds were freed, it can only say too much is held, never
--     too little, which costs one wait.
--   * room_expiries: when each held room comes back at the latest, soonest
--     first, for the first @rooms of them (the most any request lacks): a
--     request lacking k rooms may have them at the k-th, its honest
--     Retry-After. The soonest expiry alone told a request lacking 3 rooms
--     to come back when 1 would be.
--   * bucketed: free in the hotel's buckets (sharded.sql), which only the
--     sharded strategy books: any other is told so (inventory_sharded),
--     not that the hotel is sold out.
SELECT coalesce((SELECT sum(h.rooms)
                   FROM holds AS h
                  WHERE h.event_hotel_rooms_id = ehr.id
                    AND h.state = 'held'
                    AND h.expires_at > clock_timestamp()), 0)::integer AS rooms,
       coalesce((SELECT array_agg(held.expires_at ORDER BY held.expires_at)
                   FROM (SELECT h.expires_at
                           FROM holds AS h
                          CROSS JOIN LATERAL generate_series(1, h.rooms) AS room
                          WHERE h.event_hotel_rooms_id = ehr.id
                            AND h.state = 'held'
                            AND h.expires_at > clock_timestamp()
                          ORDER BY h.expires_at
                          LIMIT @rooms::integer) AS held), '{}')::timestamptz[] AS room_expiries,
       coalesce((SELECT sum(rb.assigned - rb.reserved)
                   FROM room_buckets AS rb
                  WHERE rb.event_hotel_rooms_id = ehr.id), 0)::integer AS bucketed
  FROM event_hotel_rooms AS ehr
 WHERE ehr.event_id = @event_id
   AND ehr.hotel_id = @hotel_id;

-- name: PlaceHold :one
-- PlaceHold locks rooms only if they fit, like atomic.sql's booking: the
-- check and the increment of locked are one conditional UPDATE.
WITH counter AS (
    UPDATE event_hotel_rooms
       SET locked     = locked + @rooms::integer,
           updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')
     WHERE event_id = @event_id
       AND hotel_id = @hotel_id
       AND @rooms::integer <= assigned - reserved - locked
    RETURNING id
)
INSERT INTO holds (event_hotel_rooms_id, name, rooms, expires_at, client_id, handle)
SELECT counter.id, @name::text, @rooms::integer,
       clock_timestamp() + make_interval(secs => @ttl_seconds::integer),
       sqlc.narg('client_id')::bigint, @handle::text
  FROM counter
RETURNING handle, rooms, state, expires_at;

-- name: ConfirmHold :one
-- ConfirmHold turns a live hold into a reservation: the hold leaves 'held',
-- its rooms move from locked to reserved, and the reservation row is
-- written, all in one statement, owned by the hold's owner. An expired hold (even one no sweeper has
-- reached yet) cannot be confirmed: its rooms may already be someone else's.
WITH hold AS (
    UPDATE holds
       SET state = 'confirmed', settled_at = clock_timestamp()
     WHERE holds.handle = @handle
       AND holds.client_id IS NOT DISTINCT FROM sqlc.narg('client_id')::bigint
       AND holds.event_hotel_rooms_id = (
               SELECT ehr.id FROM event_hotel_rooms AS ehr
                WHERE ehr.event_id = @event_id AND ehr.hotel_id = @hotel_id)
       AND holds.state = 'held'
       AND holds.expires_at > clock_timestamp()
    RETURNING holds.id, holds.event_hotel_rooms_id, holds.name, holds.rooms, holds.client_id
), counter AS (
    UPDATE event_hotel_rooms AS ehr
       SET locked     = ehr.locked - hold.rooms,
           reserved   = ehr.reserved + hold.rooms,
           updated_at = greatest(clock_timestamp(), ehr.updated_at + interval '1 microsecond')
      FROM hold
     WHERE ehr.id = hold.event_hotel_rooms_id
    RETURNING ehr.id
)
INSERT INTO reservations (name, event_hotel_rooms_id, number, hold_id, client_id)
SELECT hold.name, counter.id, hold.rooms, hold.id, hold.client_id
  FROM hold
  JOIN counter ON counter.id = hold.event_hotel_rooms_id
RETURNING id, number;

-- name: ReleaseHold :one
-- ReleaseHold gives a live hold's rooms back to the pool at once.
WITH hold AS (
    UPDATE holds
       SET state = 'released', settled_at = clock_timestamp()
     WHERE holds.handle = @handle
       AND holds.client_id IS NOT DISTINCT FROM sqlc.narg('client_id')::bigint
       AND holds.event_hotel_rooms_id = (
               SELECT ehr.id FROM event_hotel_rooms AS ehr
                WHERE ehr.event_id = @event_id AND ehr.hotel_id = @hotel_id)
       AND holds.state = 'held'
       AND holds.expires_at > clock_timestamp()
    RETURNING holds.event_hotel_rooms_id, holds.rooms
)
UPDATE event_hotel_rooms AS ehr
   SET locked     = ehr.locked - hold.rooms,
       updated_at = greatest(clock_timestamp(), ehr.updated_at + interval '1 microsecond')
  FROM hold
 WHERE ehr.id = hold.event_hotel_rooms_id
RETURNING hold.rooms;

-- name: ExpireHotelHolds :one
-- ExpireHotelHolds gives back the rooms of one hotel's holds that are past
-- their expiry, so that they are available to the very next request even
-- when no sweeper has run yet. SKIP LOCKED: a hold another transaction is
-- confirming, releasing or expiring right now is that transaction's.
WITH expired AS (
    UPDATE holds
       SET state = 'expired', settled_at = clock_timestamp()
     WHERE holds.id IN (
               SELECT h.id FROM holds AS h
                WHERE h.event_hotel_rooms_id = (
                          SELECT ehr.id FROM event_hotel_rooms AS ehr
                           WHERE ehr.event_id = @event_id AND ehr.hotel_id = @hotel_id)
                  AND h.state = 'held'
                  AND h.expires_at <= clock_timestamp()
                  FOR UPDATE SKIP LOCKED)
       AND holds.state = 'held'
    RETURNING holds.event_hotel_rooms_id, holds.rooms
), freed AS (
    SELECT expired.event_hotel_rooms_id, sum(expired.rooms)::integer AS rooms
      FROM expired
     GROUP BY expired.event_hotel_rooms_id
)
UPDATE event_hotel_rooms AS ehr
   SET locked     = ehr.locked - freed.rooms,
       updated_at = greatest(clock_timestamp(), ehr.updated_at + interval '1 microsecond')
  FROM freed
 WHERE ehr.id = freed.event_hotel_rooms_id
RETURNING freed.rooms;

-- name: SweepExpiredHolds :many
-- SweepExpiredHolds is ExpireHotelHolds for every hotel, a batch at a time,
-- run by every server in the background. Several sweepers at once split the
-- expired holds between them (SKIP LOCKED) instead of queueing, and none can
-- expire a hold twice (state = 'held' is re-checked under the row lock).
-- statement_timestamp(), not clock_timestamp(): a volatile bound cannot
-- be an index condition, and the scan read every live hold, every second,
-- on every server, to find none due (TestHoldSweepsWalkTheirIndexes).
WITH expired AS (
    UPDATE holds
       SET state = 'expired', settled_at = clock_timestamp()
     WHERE holds.id IN (
               SELECT h.id FROM holds AS h
                WHERE h.state = 'held'
                  AND h.expires_at <= statement_timestamp()
                ORDER BY h.expires_at
                LIMIT @batch_size::integer
                  FOR UPDATE SKIP LOCKED)
       AND holds.state = 'held'
    RETURNING holds.event_hotel_rooms_id, holds.rooms
), freed AS (
    SELECT expired.event_hotel_rooms_id, sum(expired.rooms)::integer AS rooms, count(*) AS holds
      FROM expired
     GROUP BY expired.event_hotel_rooms_id
)
UPDATE event_hotel_rooms AS ehr
   SET locked     = ehr.locked - freed.rooms,
       updated_at = greatest(clock_timestamp(), ehr.updated_at + interval '1 microsecond')
  FROM freed
 WHERE ehr.id = freed.event_hotel_rooms_id
RETURNING ehr.id, freed.rooms, freed.holds;

-- name: GetHold :one
-- GetHold reads a hold of one hotel of an event, with its reservation once
-- confirmed. A 'held' hold past expires_at is reported as expired by the
-- caller: it is dead even before a sweeper marks it.
SELECT h.handle,
       h.name,
       h.rooms,
       h.state,
       h.expires_at,
       (h.state = 'held' AND h.expires_at <= clock_timestamp())::boolean AS overdue,
       r.id AS reservation_id
  FROM holds AS h
  JOIN event_hotel_rooms AS ehr ON ehr.id = h.event_hotel_rooms_id
  LEFT JOIN reservations AS r ON r.hold_id = h.id
 WHERE h.handle = @handle
   AND h.client_id IS NOT DISTINCT FROM sqlc.narg('client_id')::bigint
   AND ehr.event_id = @event_id
   AND ehr.hotel_id = @hotel_id;

-- name: SweepFinishedHolds :execrows
-- SweepFinishedHolds deletes released and expired holds settled more than
-- @keep_seconds ago, a batch at a time: without it a hold/release loop left
-- a row behind per cycle for ever. Confirmed holds stay, as their
-- reservation's history (one per reservation at most). A swept hold's
-- handle is a hold that is not there: 404. SKIP LOCKED lets several
-- servers sweep at once. statement_timestamp() so that the scan stops at
-- the first hold not old enough, as in SweepExpiredHolds.
DELETE FROM holds
 WHERE id IN (SELECT h.id FROM holds AS h
               WHERE h.state IN ('released', 'expired')
                 AND h.settled_at <= statement_timestamp() - make_interval(secs => @keep_seconds::double precision)
               ORDER BY h.settled_at
               LIMIT @batch_size::integer
                 FOR UPDATE SKIP LOCKED);
