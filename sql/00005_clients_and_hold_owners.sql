-- API clients, and holds that belong to whoever placed them.
--
-- api_clients: who may call a server started with --auth keys. Only a hash
-- of each API key is kept (sha256: the keys are 256 random bits, so a fast
-- hash is enough; there is nothing to brute-force). The key itself is shown
-- once, by `evento clients add`. A revoked client stays, so its holds and
-- its name keep their meaning.
--
-- holds.client_id: the hold's owner; NULL is the anonymous client (a server
-- with --auth none, where every request counts as one client). Another
-- client's hold is answered exactly as a missing one.
--
-- holds.handle: what the API calls hold_id. The sequential id is never
-- shown: walking ids 1, 2, 3... used to read, confirm and release other
-- people's holds. A handle is "hold_" and 128 random bits from the server
-- (crypto/rand) in base64url; rows from before this migration get the same
-- shape from md5 over two gen_random_uuid() (244 random bits in).

-- +goose Up
CREATE TABLE api_clients (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    key_hash       bytea       NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    -- NULL: the server's --max-held-rooms applies.
    max_held_rooms integer     CHECK (max_held_rooms >= 0),
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked_at     timestamptz
);

ALTER TABLE holds
    ADD COLUMN client_id bigint REFERENCES api_clients (id),
    ADD COLUMN handle    text;
UPDATE holds
   SET handle = 'hold_' || rtrim(translate(encode(decode(
                    md5(gen_random_uuid()::text || gen_random_uuid()::text), 'hex'), 'base64'), '+/', '-_'), '=');
ALTER TABLE holds
    ALTER COLUMN handle SET NOT NULL,
    ADD CONSTRAINT holds_handle_key UNIQUE (handle);

-- The cap on rooms a client holds at once sums its live holds.
CREATE INDEX holds_active_by_client_idx ON holds (client_id, expires_at) WHERE state = 'held';

-- Idempotency keys are scoped per client ("c42:" + the client's key, see
-- evento.ScopedKey): room for the prefix beside a 255-character key.
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_key_check,
    ADD CONSTRAINT idempotency_keys_key_check CHECK (length(key) BETWEEN 1 AND 300);

-- +goose Down
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_key_check,
    ADD CONSTRAINT idempotency_keys_key_check CHECK (length(key) BETWEEN 1 AND 255);
DROP INDEX holds_active_by_client_idx;
ALTER TABLE holds DROP COLUMN handle, DROP COLUMN client_id;
DROP TABLE api_clients;
