-- Reservations that belong to whoever made them, can be cancelled by them,
-- and a limit on how many rooms one client may take at one event.
--
-- reservations.client_id: the reservation's owner, as holds.client_id is a
-- hold's (sql/00005); NULL is the anonymous client of a server without
-- --auth. Rows from before this migration have no owner: the anonymous
-- client's, which nobody with a key can see or cancel.
--
-- reservations.cancelled_at: a cancelled reservation stays, marked, so that
-- an idempotency key that names it still finds it, and a second cancel
-- answers as the first. Whatever sums reservations counts live rows only
-- (cancelled_at IS NULL): the hotel's counters got the rooms back.
--
-- api_clients.max_rooms_per_event: the client's own limit on rooms it may
-- have at one event, booked or held (NULL: the server's
-- --max-rooms-per-client). The limit is checked against the client's live
-- reservations and holds at that event, summed under a lock per client and
-- event (queries/limits.sql), which is what the index below serves.

-- +goose Up
ALTER TABLE reservations
    ADD COLUMN client_id    bigint REFERENCES api_clients (id),
    ADD COLUMN cancelled_at timestamptz;

CREATE INDEX reservations_live_by_client_idx ON reservations (client_id, event_hotel_rooms_id)
    WHERE cancelled_at IS NULL AND client_id IS NOT NULL;

ALTER TABLE api_clients
    ADD COLUMN max_rooms_per_event integer CHECK (max_rooms_per_event >= 0);

-- +goose Down
ALTER TABLE api_clients DROP COLUMN max_rooms_per_event;
DROP INDEX reservations_live_by_client_idx;
ALTER TABLE reservations DROP COLUMN cancelled_at, DROP COLUMN client_id;
