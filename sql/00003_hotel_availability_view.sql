-- What clients are shown as a hotel's availability, in one place: a hold
-- past its expiry no longer counts as locked, even before a sweeper has
-- marked it expired (the next booking that needs its rooms frees them; see
-- queries/holds.sql). Strategies do not read this view: they decide from
-- the raw counters, which the write they guard checks.

-- +goose Up
CREATE VIEW hotel_availability AS
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

-- +goose Down
DROP VIEW hotel_availability;
