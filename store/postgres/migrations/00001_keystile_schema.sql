-- Keystile's schema: pending authorization requests, authorization codes,
-- browser sessions, refresh-token families and tokens, and revoked access
-- tokens.
--
-- Keys are SHA-256 hashes of the secrets, never the secrets themselves, as
-- bytea. Times are timestamptz, kept to the millisecond by the Go side.
-- Scopes and claims are JSON text, not jsonb: jsonb reorders keys and
-- normalises numbers, and refuses \u0000, which claims may hold.
-- The state and nonce a client sends are passed through unchecked, so they
-- are bytea: a Go string may hold NUL or invalid UTF-8, which text refuses.
-- Every other string Keystile makes itself, takes from its configuration or
-- its user-validation callback, or checks first (client ids, redirect URIs,
-- challenges, subjects, family ids, jtis), and is text, readable in psql.

-- +goose Up
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
    expires_at   timestamptz NOT NULL
);

-- DeleteExpired scans by expiry.
CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);

-- A redeemed code is kept, with used_at set, until it expires, so that a
-- replay is recognised for as long as the code lives.
CREATE TABLE auth_codes (
    hash         bytea       NOT NULL PRIMARY KEY CHECK (length(hash) > 0),
    client_id    text        NOT NULL,
    redirect_uri text        NOT NULL,
    challenge    text        NOT NULL,
    subject      text        NOT NULL,
    claims       text        NOT NULL,
    scope        text        NOT NULL,
    nonce        bytea       NOT NULL,
    auth_time    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    family_id    text        NOT NULL,
    session_hash bytea,
    used_at      timestamptz
);

CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE sessions (
    id_hash    bytea       NOT NULL PRIMARY KEY CHECK (length(id_hash) > 0),
    subject    text        NOT NULL,
    claims     text        NOT NULL,
    auth_time  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- A family is the chain of refresh tokens descended from one authorization.
-- Its session and absolute expiry are fixed by its first token; a revoked
-- row is kept until expires_at, so that a token created in the family
-- afterwards is born revoked.
CREATE TABLE refresh_families (
    id           text        NOT NULL PRIMARY KEY CHECK (length(id) > 0),
    session_hash bytea,
    revoked      boolean     NOT NULL DEFAULT false,
    expires_at   timestamptz NOT NULL
);

-- EndSession revokes by session; families issued outside one have none.
CREATE INDEX refresh_families_session_hash ON refresh_families (session_hash)
    WHERE session_hash IS NOT NULL;
CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
    hash       bytea       NOT NULL PRIMARY KEY CHECK (length(hash) > 0),
    family_id  text        NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    client_id  text        NOT NULL,
    subject    text        NOT NULL,
    claims     text        NOT NULL,
    scope      text        NOT NULL,
    nonce      bytea       NOT NULL,
    auth_time  timestamptz NOT NULL,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- The foreign key's cascade and DeleteExpired look tokens up by family.
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- RFC 7009 deny-list of access tokens by jti, kept until they expire anyway.
CREATE TABLE revoked_access_tokens (
    jti        text        NOT NULL PRIMARY KEY CHECK (length(jti) > 0),
    expires_at timestamptz NOT NULL
);

CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

-- +goose Down
DROP TABLE revoked_access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
DROP TABLE sessions;
DROP TABLE auth_codes;
DROP TABLE auth_requests;
