-- Room holds (the brief's "locking rooms") and idempotency keys.
--
-- A hold takes rooms out of the pool without booking them: while it is
-- active its rooms are counted in event_hotel_rooms.locked. The invariant,
-- kept by every statement in queries/holds.sql and checked by the tests:
--
--     locked = sum(rooms) of the hotel's holds in state 'held'
--
-- and reserved + locked <= assigned still holds (the CHECK from 00001).
-- A hold whose expires_at has passed is dead even while its state still says
-- 'held': reads never count it, and the next write that needs its rooms, or
-- any server's sweeper, moves it to 'expired' and gives its rooms back.
--
-- A confirmed hold points at its reservation from the reservation's side
-- (reservations.hold_id, UNIQUE): one hold can never become two bookings,
-- whatever races a confirm.

-- +goose Up
CREATE TABLE holds (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_hotel_rooms_id bigint      NOT NULL REFERENCES event_hotel_rooms (id),
    name                 text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    rooms                integer     NOT NULL CHECK (rooms > 0),
    state                text        NOT NULL DEFAULT 'held'
                                     CHECK (state IN ('held', 'confirmed', 'released', 'expired')),
    expires_at           timestamptz NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    settled_at           timestamptz,
    CONSTRAINT holds_settled_when_not_held CHECK ((state = 'held') = (settled_at IS NULL))
);

-- The sweeper and the per-hotel expiry look only at active holds by expiry.
CREATE INDEX holds_active_by_expiry_idx ON holds (expires_at) WHERE state = 'held';
CREATE INDEX holds_active_by_hotel_idx ON holds (event_hotel_rooms_id, expires_at) WHERE state = 'held';

ALTER TABLE reservations ADD COLUMN hold_id bigint UNIQUE REFERENCES holds (id);

-- The outcome of the first request made with a key, stored in the same
-- transaction as its booking: a retry replays it instead of booking again.
-- fingerprint identifies the request (method, route, body) so that a key
-- reused for a different request is refused.
CREATE TABLE idempotency_keys (
    key         text        PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint text        NOT NULL,
    status      integer     NOT NULL,
    body        bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at  timestamptz NOT NULL
);

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
ALTER TABLE reservations DROP COLUMN hold_id;
DROP TABLE holds;
