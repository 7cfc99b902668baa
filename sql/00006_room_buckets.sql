-- Room buckets: one hotel's rooms for an event split across K rows, so that
-- bookings for one hotel need not queue on one row lock (the "sharded"
-- strategy, queries/sharded.sql).
--
-- A bucket's rooms are out of its hotel's row: event_hotel_rooms.assigned
-- counts only the rooms left in the hotel's row, and each bucket counts its
-- own. So each row bounds its own rooms with its own CHECK, and their sum
-- bounds the hotel's, whichever strategy writes which row: no constraint
-- across rows is needed. A hotel's totals are its row plus its buckets, as
-- the hotel_availability view (below) and the reports (report.sql) add
-- them up. Only "sharded" books buckets; any other booking or hold that
-- finds no room in the hotel's row while its buckets have some is told so
-- (409 inventory_sharded), not that the hotel is sold out.
--
-- A reservation still points at its hotel's row (a booking may take rooms
-- from several buckets at once), so the counter-against-rows check that
-- catches a lost update compares the hotel's summed counters with the sum
-- of its reservations.

-- +goose Up
CREATE TABLE room_buckets (
    id                   bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_hotel_rooms_id bigint  NOT NULL REFERENCES event_hotel_rooms (id),
    bucket               integer NOT NULL CHECK (bucket >= 1),
    assigned             integer NOT NULL CHECK (assigned >= 0),
    reserved             integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    CONSTRAINT room_buckets_hotel_bucket_key UNIQUE (event_hotel_rooms_id, bucket),
    CONSTRAINT room_buckets_within_assigned CHECK (reserved <= assigned)
);

CREATE OR REPLACE VIEW hotel_availability AS
SELECT ehr.id,
       ehr.event_id,
       ehr.hotel_id,
       h.name AS hotel_name,
       ehr.assigned + coalesce(b.assigned, 0) AS assigned,
       ehr.reserved + coalesce(b.reserved, 0) AS reserved,
       ehr.locked - coalesce((SELECT sum(o.rooms)
                                FROM holds AS o
                               WHERE o.event_hotel_rooms_id = ehr.id
                                 AND o.state = 'held'
                                 AND o.expires_at <= clock_timestamp()), 0)::integer AS locked
  FROM event_hotel_rooms AS ehr
  JOIN hotels AS h ON h.id = ehr.hotel_id
  LEFT JOIN LATERAL (SELECT sum(rb.assigned)::integer AS assigned,
                            sum(rb.reserved)::integer AS reserved
                       FROM room_buckets AS rb
                      WHERE rb.event_hotel_rooms_id = ehr.id) AS b ON true;

-- +goose Down
CREATE OR REPLACE VIEW hotel_availability AS
SELECT ehr.id,
       ehr.event_id,
       ehr.hotel_id,
       h.name AS hotel_name,
       ehr.assigned,
       ehr.reserved,
       ehr.locked - coalesce((SELECT sum(o.rooms)
                                FROM holds AS o
                               WHERE o.event_hotel_rooms_id = ehr.id
                                 AND o.state = 'held'
                                 AND o.expires_at <= clock_timestamp()), 0)::integer AS locked
  FROM event_hotel_rooms AS ehr
  JOIN hotels AS h ON h.id = ehr.hotel_id;
DROP TABLE room_buckets;
