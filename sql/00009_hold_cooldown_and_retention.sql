-- Holds that end, and hold rows that do not pile up.
--
-- holds_ended_by_client_idx: a client whose hold at a hotel ended (released
-- or expired) may not hold there again for serve --hold-cooldown
-- (queries/holds.sql, HoldCooldownUntil). A hold ended at
-- least(settled_at, expires_at): a release settles it before its expiry,
-- an expiry (swept or not) at expires_at; least() skips the NULL
-- settled_at of a hold still 'held'. The newest end of one client at one
-- hotel is then one step down this index. The anonymous client (NULL) is
-- indexed as 0, which no API client's id is (ids start at 1), so that it
-- too is found by equality.
--
-- holds_finished_idx: released and expired holds are deleted after serve
-- --keep-holds (SweepFinishedHolds), oldest first. Confirmed holds stay:
-- their reservation points at them (reservations.hold_id), and there is at
-- most one per reservation.
--
-- Keys keep no refusal any more (evento.Outcome.Kept): a stored rooms_held
-- was replayed for a day after the holds had ended. The refusals stored
-- before go now rather than in a day.

-- +goose Up
CREATE INDEX holds_ended_by_client_idx
    ON holds ((coalesce(client_id, 0)), event_hotel_rooms_id, (least(settled_at, expires_at)))
 WHERE state IN ('held', 'released', 'expired');
CREATE INDEX holds_finished_idx ON holds (settled_at) WHERE state IN ('released', 'expired');
DELETE FROM idempotency_keys WHERE outcome ? 'refusal';

-- +goose Down
DROP INDEX holds_finished_idx;
DROP INDEX holds_ended_by_client_idx;
