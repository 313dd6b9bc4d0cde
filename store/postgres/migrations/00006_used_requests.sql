-- Pending authorization requests are no longer stored: the login form
-- carries each one sealed, so that unfinished sign-ins cost the database
-- nothing. What is stored is the id of a request that yielded a sign-in,
-- until the request would have expired, so that one login form yields one
-- code. Pending requests left by an older version are dropped: their login
-- forms show the "expired" page and the user starts again. Down brings
-- back auth_requests as migration 00004 left it, empty.

-- +goose Up
DROP TABLE auth_requests;

CREATE TABLE used_requests (
    id_hash    bytea       NOT NULL PRIMARY KEY CHECK (length(id_hash) > 0),
    expires_at timestamptz NOT NULL
);

-- DeleteExpired scans by expiry.
CREATE INDEX used_requests_expires_at ON used_requests (expires_at);

-- +goose Down
DROP TABLE used_requests;

CREATE TABLE auth_requests (
    id_hash      bytea       NOT NULL PRIMARY KEY CHECK (length(id_hash) > 0),
    browser_hash bytea,
    csrf_hash    bytea,
    client_id    text        NOT NULL,
    redirect_uri text        NOT NULL,
    state        bytea       NOT NULL,
    challenge    text        NOT NULL,
    nonce        bytea       NOT NULL,
    scope        text        NOT NULL,
    expires_at   timestamptz NOT NULL,
    resources    text        NOT NULL DEFAULT 'null'
);

CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);
