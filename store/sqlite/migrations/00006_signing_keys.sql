-- Signing keys shared by the processes of one deployment (store.SigningKeys).
-- material is the private key as Keystile encoded it: PKCS #8 in PEM, or
-- that sealed with AES-GCM under a key-encryption secret the database does
-- not hold. The primary key on generation is the conditional insert that
-- lets exactly one of several processes create the first key or a rotation.
-- Times are unix milliseconds.

-- +goose Up
CREATE TABLE signing_keys (
    generation INTEGER NOT NULL PRIMARY KEY CHECK (generation > 0),
    kid        TEXT    NOT NULL UNIQUE CHECK (length(kid) > 0),
    algorithm  TEXT    NOT NULL,
    material   BLOB    NOT NULL CHECK (length(material) > 0),
    created_at INTEGER NOT NULL,
    active_at  INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE signing_keys;
