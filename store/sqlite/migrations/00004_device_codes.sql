-- Device authorizations (RFC 8628). Both codes are kept only as SHA-256
-- hashes. status is '' while pending, then 'approved' or 'denied'; a
-- decided row is deleted by the poll that reads it. Times are unix
-- milliseconds (a zero time is year 1's); interval_s is in seconds.

-- +goose Up
CREATE TABLE device_codes (
    hash           BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) > 0),
    user_code_hash BLOB    NOT NULL UNIQUE CHECK (length(user_code_hash) > 0),
    client_id      TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    expires_at     INTEGER NOT NULL,
    interval_s     INTEGER NOT NULL,
    last_polled_at INTEGER NOT NULL,
    status         TEXT    NOT NULL DEFAULT '',
    subject        TEXT    NOT NULL DEFAULT '',
    claims         TEXT    NOT NULL DEFAULT 'null',
    auth_time      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX device_codes_expires_at ON device_codes (expires_at);

-- +goose Down
DROP TABLE device_codes;
