-- Browser sessions, refresh-token families, revoked access tokens, and code
-- reuse detection: a consumed code is now kept, marked used, until it expires.
-- Keys are SHA-256 hashes of the secrets, never the secrets themselves.
-- Times are unix milliseconds; scope and claims are JSON text.

-- +goose Up
-- used_at is NULL until the code is redeemed. Codes from before this
-- migration were deleted when redeemed, so every remaining one is unused.
ALTER TABLE auth_codes ADD COLUMN used_at INTEGER;
ALTER TABLE auth_codes ADD COLUMN family_id TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN session_hash BLOB;

CREATE TABLE sessions (
    id_hash    BLOB    NOT NULL PRIMARY KEY CHECK (length(id_hash) > 0),
    subject    TEXT    NOT NULL,
    claims     TEXT    NOT NULL,
    auth_time  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- A family is the chain of refresh tokens descended from one authorization.
-- Its session and absolute expiry are fixed by its first token; a row with
-- revoked = 1 is kept until expires_at, so that a token created in the
-- family afterwards is born revoked.
CREATE TABLE refresh_families (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (length(id) > 0),
    session_hash BLOB,
    revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    expires_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- EndSession revokes by session; families issued outside one have none.
CREATE INDEX refresh_families_session_hash ON refresh_families (session_hash)
    WHERE session_hash IS NOT NULL;
CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) > 0),
    family_id  TEXT    NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    claims     TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    auth_time  INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT, WITHOUT ROWID;

-- The foreign key's cascade and DeleteExpired look tokens up by family.
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- RFC 7009 deny-list of access tokens by jti, kept until they expire anyway.
CREATE TABLE revoked_access_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY CHECK (length(jti) > 0),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

-- +goose Down
DROP TABLE revoked_access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
DROP TABLE sessions;
-- Used codes were kept for replay detection; 00001 has no place for them.
DELETE FROM auth_codes WHERE used_at IS NOT NULL;
ALTER TABLE auth_codes DROP COLUMN session_hash;
ALTER TABLE auth_codes DROP COLUMN family_id;
ALTER TABLE auth_codes DROP COLUMN used_at;
