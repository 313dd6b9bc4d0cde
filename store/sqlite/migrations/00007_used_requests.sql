-- Pending authorization requests are no longer stored: the login form
-- carries each one sealed, so that unfinished sign-ins cost the store
-- nothing. What is stored is the id of a request that yielded a sign-in,
-- until the request would have expired, so that one login form yields one
-- code. Pending requests left by an older version are dropped: their login
-- forms, which carry an id the new version cannot open, show the "expired"
-- page and the user starts again.
-- Keys are SHA-256 hashes; times are unix milliseconds. Down brings back
-- auth_requests as migration 00005 left it, empty.

-- +goose Up
DROP TABLE auth_requests;

CREATE TABLE used_requests (
    id_hash    BLOB    NOT NULL PRIMARY KEY CHECK (length(id_hash) > 0),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- DeleteExpired scans by expiry.
CREATE INDEX used_requests_expires_at ON used_requests (expires_at);

-- +goose Down
DROP TABLE used_requests;

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
    expires_at   INTEGER NOT NULL,
    resources    TEXT    NOT NULL DEFAULT 'null'
) STRICT, WITHOUT ROWID;

CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);
