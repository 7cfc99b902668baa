-- A booking's idempotency key lives on its reservation: a keyed booking
-- writes one row, the reservation, where it wrote two (the reservation and
-- the key's row in idempotency_keys). A replay rebuilds the booking from
-- the reservation the key finds (db/codec.go).
--
-- idempotency_key, key_fingerprint, key_expires_at: the key, the request it
-- was made for (a key reused for another request is refused) and the end
-- of its retention, all three set or all three NULL. The sweeper clears
-- them past key_expires_at (queries/idempotency.sql, SweepReservationKeys);
-- the reservation stays. Both indexes are partial: an unkeyed booking, or
-- a swept key, costs no index entry.
--
-- The defaults are how any strategy's INSERT INTO reservations records the
-- key of the one booking its transaction makes, without a
-- word about keys in its SQL: LockIdempotencyKeys sets these settings for
-- the transaction only (set_config(..., true)), so they are unset, and the
-- columns NULL, in every other transaction. A statement that books many
-- requests at once (batched.sql) or claims its key itself (the keyed fast
-- paths) writes the columns explicitly. The defaults are set after the
-- columns are added, so that existing rows are not rewritten.
--
-- idempotency_keys keeps every other outcome (holds, confirmations). The
-- bookings of SERIALIZABLE transactions once claimed their key there too;
-- since they record it here (queries/idempotency.sql says how), the rows
-- they left are read until they expire.

-- +goose Up
ALTER TABLE reservations
    ADD COLUMN idempotency_key text,
    ADD COLUMN key_fingerprint text,
    ADD COLUMN key_expires_at  timestamptz,
    ADD CONSTRAINT reservations_key_whole CHECK (
        (idempotency_key IS NULL) = (key_fingerprint IS NULL)
        AND (idempotency_key IS NULL) = (key_expires_at IS NULL));

ALTER TABLE reservations
    ALTER COLUMN idempotency_key SET DEFAULT nullif(current_setting('evento.idempotency_key', true), ''),
    ALTER COLUMN key_fingerprint SET DEFAULT nullif(current_setting('evento.idempotency_fingerprint', true), ''),
    ALTER COLUMN key_expires_at  SET DEFAULT clock_timestamp() + make_interval(
        secs => nullif(current_setting('evento.idempotency_keep', true), '')::double precision);

CREATE UNIQUE INDEX reservations_idempotency_key_idx ON reservations (idempotency_key)
 WHERE idempotency_key IS NOT NULL;
CREATE INDEX reservations_key_expires_at_idx ON reservations (key_expires_at)
 WHERE key_expires_at IS NOT NULL;

-- +goose Down
DROP INDEX reservations_key_expires_at_idx;
DROP INDEX reservations_idempotency_key_idx;
ALTER TABLE reservations
    DROP CONSTRAINT reservations_key_whole,
    DROP COLUMN key_expires_at,
    DROP COLUMN key_fingerprint,
    DROP COLUMN idempotency_key;
