-- The brief's four tables. Counters live on event_hotel_rooms (one row per
-- event and hotel, the "hot row" every strategy fights over); each booking is
-- also a row in reservations, so a run can compare the counter with the sum of
-- the rows and catch a lost update.
--
-- Which CHECKs, and why:
--   * reserved, locked and assigned are never negative, and reservations book
--     at least one room: these reject nonsense whatever the strategy.
--   * reserved + locked <= assigned bounds the counter. It is a safety net for
--     the safe strategies, NOT what makes them safe: each one must stay
--     correct without it, and the tests check that the conflict is resolved
--     by the strategy's own SQL (a violated CHECK would surface as a 500).
--   * It does not stop the naive strategy from overbooking, and that is the
--     point: naive writes an absolute counter computed from a stale read, so
--     two clients that both read reserved = 0 both write reserved = 5. Each
--     write satisfies the CHECK; the second one silently erases the first
--     (a lost update), and reservations ends up with 10 rooms booked against
--     5 assigned. Only a constraint across rows (the sum of reservations)
--     could catch that, which a CHECK cannot express; the strategies must.

-- +goose Up
CREATE TABLE events (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200)
);

CREATE TABLE hotels (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200)
);

CREATE TABLE event_hotel_rooms (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   bigint      NOT NULL REFERENCES events (id),
    hotel_id   bigint      NOT NULL REFERENCES hotels (id),
    assigned   integer     NOT NULL CHECK (assigned >= 0),
    reserved   integer     NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    locked     integer     NOT NULL DEFAULT 0 CHECK (locked >= 0),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT event_hotel_rooms_event_hotel_key UNIQUE (event_id, hotel_id),
    CONSTRAINT event_hotel_rooms_within_assigned CHECK (reserved + locked <= assigned)
);

-- The unique constraint's index serves lookups by (event_id, hotel_id) and by
-- event_id alone; hotel_id needs its own for the foreign key.
CREATE INDEX event_hotel_rooms_hotel_id_idx ON event_hotel_rooms (hotel_id);

CREATE TABLE reservations (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    event_hotel_rooms_id bigint      NOT NULL REFERENCES event_hotel_rooms (id),
    number               integer     NOT NULL CHECK (number > 0),
    created_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Reports sum reservations per hotel; the index also serves the foreign key.
CREATE INDEX reservations_event_hotel_rooms_id_idx ON reservations (event_hotel_rooms_id);

-- +goose Down
DROP TABLE reservations;
DROP TABLE event_hotel_rooms;
DROP TABLE hotels;
DROP TABLE events;
