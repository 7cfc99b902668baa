-- An idempotency key keeps the DOMAIN OUTCOME of its first request (a
-- booking, a hold, a confirmation, or a final refusal such as sold_out),
-- not an HTTP response: the data layer never renders HTTP, and the api
-- package renders a replay exactly as it rendered the first answer.
-- outcome is NULL only inside the transaction that claimed the key, which
-- writes it before COMMIT (queries/idempotency.sql).
--
-- Stored responses from before this migration are dropped: they are
-- replays of at most one retention period (24 h by default), and a key
-- that is gone is a new key.

-- +goose Up
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys
    DROP COLUMN status,
    DROP COLUMN body,
    ADD COLUMN outcome jsonb;

-- +goose Down
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys
    DROP COLUMN outcome,
    ADD COLUMN status integer NOT NULL,
    ADD COLUMN body bytea NOT NULL;
