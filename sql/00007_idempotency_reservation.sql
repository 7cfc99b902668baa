-- A key whose request booked keeps the reservation's id, not a JSON copy of
-- the booking: the replay rebuilds the booking in Go from the reservation
-- itself (db/codec.go), so the booking's JSON is written in one
-- place only, and the keyed fast paths (queries/atomic.sql,
-- queries/sharded.sql) store a number instead of assembling JSON in SQL.
-- Every other outcome (a hold, a confirmation, a refusal) stays in
-- outcome, encoded by Go. A key is in progress while both are NULL.
--
-- No foreign key: the fast path inserts the reservation and the key in
-- one statement, and a key outlives nothing it names (reservations are
-- never deleted). Rows stored before keep their JSON, which the replay
-- still reads.

-- +goose Up
ALTER TABLE idempotency_keys ADD COLUMN reservation_id bigint;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN reservation_id;
