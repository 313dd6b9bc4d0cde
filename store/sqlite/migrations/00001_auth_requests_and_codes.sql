-- Pending authorization requests and authorization codes.
-- Keys are SHA-256 hashes of the secrets, never the secrets themselves.
-- Times are unix milliseconds; scope and claims are JSON text.

-- +goose Up
CREATE TABLE auth_requests (
    id_hash      BLOB    NOT NULL PRIMARY KEY CHECK (length(id_hash) > 0),
    browser_hash BLOB,
    csrf_hash    BLOB,
    client_id    TEXT    NOT NULL,
    redirect_uri TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    challenge    TEXT    NOT NULL,
    nonce        TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- DeleteExpired scans by expiry.
CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);

CREATE TABLE auth_codes (
    hash         BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) > 0),
    client_id    TEXT    NOT NULL,
    redirect_uri TEXT    NOT NULL,
    challenge    TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    claims       TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    nonce        TEXT    NOT NULL,
    auth_time    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

-- +goose Down
DROP TABLE auth_codes;
DROP TABLE auth_requests;
