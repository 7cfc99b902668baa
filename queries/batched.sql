-- Strategy "batched": server-side group commit. The reserve requests for
-- one hotel that reach a server while its previous batch commits are
-- booked together, in ONE statement, answered one by one in arrival order.
--
-- Steps, in one statement (so one transaction and one round trip a batch):
--   1. hotel: lock the hotel's row (FOR UPDATE) and read what is left.
--   2. decision: walk the requests in arrival order (a recursive CTE):
--      each is booked if its rooms fit in what the earlier ones left,
--      refused otherwise; a refused one does not stop a smaller one behind.
--   3. counter: add the booked rooms to the counter, once, writing the
--      values of the row locked in step 1 (see below).
--   4. ids, booked: insert one reservation per booked request, with ids
--      drawn first so that each request learns its own, and with its
--      idempotency key, if it has one (queries/idempotency.sql): one row
--      for the booking and its key. A key committed since the batch's
--      LockIdempotencyKeys fails the INSERT with unique_violation, which
--      undoes the batch; it runs again and replays that key.
-- The result has one row per request: booked or not, and the rooms left
-- when its turn came (0 = sold out, otherwise insufficient).
--
-- A batch with idempotency keys runs the same statement on its own, as
-- ONE autocommit statement that claims the keys itself (@claim_keys), as
-- atomic.sql's AtomicBookKeyed does for one request; only when it commits
-- nothing does the batch take the general path (a transaction: claim the
-- keys with LockIdempotencyKeys, this statement with @claim_keys false,
-- which writes each key on its reservation, COMMIT), which holds the
-- hotel's row until the COMMIT, one round trip more. With @claim_keys:
--   0. claim: try every key's advisory lock (the general path's very
--      lock) without waiting, and check that idempotency_keys holds no row
--      of any of them (a hold's, a confirmation's). Step 1's lock of the
--      hotel's row waits for the claim (a one-time filter), so the keys
--      are taken before the row is read, let alone locked; claimed or not,
--      every lock the statement took ends with it.
--   2b. verdict: the batch is written only if the claim holds AND every
--      request is booked. A refusal is the general path's to answer: it
--      frees overdue holds and books again, and says what holds the
--      rooms, none of which fits in this statement.
-- It then returns one row per request, each booked, or no row at all (the
-- keys were not all claimed, or the hotel is unknown), or rows not all
-- booked (it wrote nothing), or it fails: a key a booking used before (or
-- past its retention and not yet swept), or a key twice in the batch,
-- fails the INSERT with unique_violation on
-- reservations_idempotency_key_idx, which undoes the whole statement. In
-- every one of those cases nothing is committed, and the general path
-- waits for a busy key, replays, refuses a reused key, forgets an expired
-- one and answers each refusal.
-- Anomalies it prevents: the LOST UPDATE, as below; and the DOUBLE
-- BOOKING of one key, without reading the reservations' keys first: the
-- statement's snapshot is taken before the locks, so a duplicate that
-- committed in between would be invisible to a read, not to the INSERT's
-- uniqueness check, which sees a committed key whenever it was committed.
-- The advisory locks keep that check from waiting: only a key's lock
-- holder writes it, so no uncommitted key of another request is in the
-- INSERT's way while this statement holds the hot row (without them, a
-- general-path request that had claimed a key and queued for the row
-- would deadlock with it). The check of idempotency_keys has the
-- snapshot's blind instant: see "Not prevented" in idempotency.sql.
-- An unkeyed batch needs no claim and no transaction: it runs with
-- @claim_keys false, and so books what fits even when a request is
-- refused.
--
-- Anomaly it prevents: the LOST UPDATE, as pessimistic does (the row lock
-- is taken before the read), and it stays safe with several servers
-- batching at once because the SQL itself decides from the locked row. The
-- hot row is locked once per batch instead of once per request: that is
-- where the throughput comes from.
--
-- Anomaly it also prevents: a CHECK failing on a STALE TENTATIVE ROW. The
-- decision comes from the row version step 1 locked, which FOR UPDATE
-- reads after waiting: the latest one. The counter's UPDATE, though, scans
-- event_hotel_rooms under the statement's snapshot, taken before that
-- wait, so it first finds the version the snapshot sees. PostgreSQL
-- computes the new row from that version and checks the CHECK constraints
-- on it BEFORE it tries to write and finds the row changed (only then does
-- EvalPlanQual recompute the row from the latest version). When the
-- transaction we waited for gave rooms back (a hold released, expired by
-- a sweeper, or freed as overdue by another write), the old version still
-- counts them as locked: old reserved + rooms booked out of the freed ones
-- + old locked exceeds assigned, and event_hotel_rooms_within_assigned
-- fails (23514, a 500) although the row that would be written is within
-- capacity. Seen with --holds 0.3 --abandon 0.3 --hold-ttl 1s; test:
-- TestBatchedBooksRoomsFreedWhileItWaited. So the UPDATE takes every value
-- it writes from hotel, the locked row, and nothing from the version its
-- scan found: the tentative row and the written row are then the same,
-- within capacity by the decision. Writing absolute values is safe here,
-- unlike naive's, because the row is locked FOR UPDATE until COMMIT: no
-- other writer can change it between step 1 and this write.

-- name: BatchBook :many
WITH RECURSIVE request AS (
    -- client_ids: each request's owner, 0 for the anonymous client (NULL).
    -- keys, fingerprints: each request's idempotency key, '' for none.
    -- The arrays are read side by side, one row per request (the Go
    -- side passes them all of one length).
    SELECT r.ord, r.name, r.rooms, nullif(r.client_id, 0) AS client_id,
           nullif(r.key, '') AS key, nullif(r.fingerprint, '') AS fingerprint
      FROM ROWS FROM (unnest(@names::text[]), unnest(@room_counts::integer[]),
                      unnest(@client_ids::bigint[]), unnest(@keys::text[]),
                      unnest(@fingerprints::text[]))
           WITH ORDINALITY AS r (name, rooms, client_id, key, fingerprint, ord)
), claim AS (
    -- idempotency_keys is probed for all the keys at once, not once per
    -- request: a probe per row of request made the generic plan, which
    -- reckons with 100 requests, dearer than any custom plan, and
    -- PostgreSQL then planned every batch afresh (0.5 ms each, tripling an
    -- unkeyed batch of one: BenchmarkReserve/batched).
    SELECT coalesce(bool_and(pg_try_advisory_xact_lock(x'45564b59'::integer, hashtext(request.key))), true)
           AND NOT EXISTS (SELECT FROM idempotency_keys AS k
                            WHERE k.key = ANY (@keys::text[]) AND @claim_keys::boolean) AS claimed
      FROM request
     WHERE request.key IS NOT NULL
       AND @claim_keys::boolean
), hotel AS (
    SELECT ehr.id, ehr.reserved, ehr.locked, ehr.updated_at,
           ehr.assigned - ehr.reserved - ehr.locked AS available
      FROM event_hotel_rooms AS ehr
     WHERE ehr.event_id = @event_id
       AND ehr.hotel_id = @hotel_id
       AND (SELECT claim.claimed FROM claim)
       FOR UPDATE
), decision (ord, left_before, left_after, booked) AS (
    SELECT 0::bigint, hotel.available, hotel.available, false
      FROM hotel
    UNION ALL
    SELECT request.ord,
           decision.left_after,
           CASE WHEN request.rooms <= decision.left_after
                THEN decision.left_after - request.rooms
                ELSE decision.left_after END,
           request.rooms <= decision.left_after
      FROM decision
      JOIN request ON request.ord = decision.ord + 1
), verdict AS (
    SELECT NOT @claim_keys::boolean OR coalesce(bool_and(decision.booked), false) AS writes
      FROM decision
     WHERE decision.ord > 0
), ids AS (
    SELECT decision.ord, nextval(pg_get_serial_sequence('reservations', 'id')) AS id
      FROM decision
     WHERE decision.booked
       AND (SELECT verdict.writes FROM verdict)
), counter AS (
    -- Every value from hotel (the locked row), none from ehr: ehr is the
    -- version the statement's snapshot sees, possibly an older one, and
    -- the CHECK is evaluated on a row computed from it (see above).
    -- locked = hotel.locked changes nothing in the row written; it keeps
    -- stale locked rooms out of the row the CHECK sees first.
    UPDATE event_hotel_rooms AS ehr
       SET reserved   = hotel.reserved + (SELECT sum(request.rooms)
                                            FROM ids JOIN request ON request.ord = ids.ord),
           locked     = hotel.locked,
           updated_at = greatest(clock_timestamp(), hotel.updated_at + interval '1 microsecond')
      FROM hotel
     WHERE ehr.id = hotel.id
       AND EXISTS (SELECT 1 FROM ids)
    RETURNING ehr.id
), booked AS (
    INSERT INTO reservations (id, name, event_hotel_rooms_id, number, client_id,
                              idempotency_key, key_fingerprint, key_expires_at)
    OVERRIDING SYSTEM VALUE
    SELECT ids.id, request.name, counter.id, request.rooms, request.client_id,
           request.key, request.fingerprint,
           CASE WHEN request.key IS NOT NULL
                THEN clock_timestamp() + make_interval(secs => @keep_seconds::integer) END
      FROM ids
      JOIN request ON request.ord = ids.ord
     CROSS JOIN counter
    RETURNING id
)
SELECT decision.ord::bigint AS ord,
       (decision.booked AND ids.id IS NOT NULL)::boolean AS booked,
       decision.left_before::integer AS left_before,
       coalesce(ids.id, 0)::bigint AS reservation_id
  FROM decision
  LEFT JOIN ids ON ids.ord = decision.ord
 WHERE decision.ord > 0
 ORDER BY decision.ord;
