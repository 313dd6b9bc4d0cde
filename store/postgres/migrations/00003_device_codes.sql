-- Device authorizations (RFC 8628). Both codes are kept only as SHA-256
-- hashes. status is '' while pending, then 'approved' or 'denied'; a
-- decided row is deleted by the poll that reads it. A zero time is year
-- 1's; interval_s is in seconds.

-- +goose Up
CREATE TABLE device_codes (
    hash           bytea       NOT NULL PRIMARY KEY CHECK (length(hash) > 0),
    user_code_hash bytea       NOT NULL UNIQUE CHECK (length(user_code_hash) > 0),
    client_id      text        NOT NULL,
    scope          text        NOT NULL,
    expires_at     timestamptz NOT NULL,
    interval_s     bigint      NOT NULL,
    last_polled_at timestamptz NOT NULL,
    status         text        NOT NULL DEFAULT '',
    subject        text        NOT NULL DEFAULT '',
    claims         text        NOT NULL DEFAULT 'null',
    auth_time      timestamptz NOT NULL
);

CREATE INDEX device_codes_expires_at ON device_codes (expires_at);

-- +goose Down
DROP TABLE device_codes;
