-- Signing keys shared by the replicas of one deployment (store.SigningKeys).
-- material is the private key as Keystile encoded it: PKCS #8 in PEM, or
-- that sealed with AES-GCM under a key-encryption secret the database does
-- not hold. The primary key on generation is the conditional insert that
-- lets exactly one of several replicas create the first key or a rotation.

-- +goose Up
CREATE TABLE signing_keys (
    generation bigint      NOT NULL PRIMARY KEY CHECK (generation > 0),
    kid        text        NOT NULL UNIQUE CHECK (length(kid) > 0),
    algorithm  text        NOT NULL,
    material   bytea       NOT NULL CHECK (length(material) > 0),
    created_at timestamptz NOT NULL,
    active_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE signing_keys;
