-- Every revocation is announced on the channel keystile_revocations, so
-- that each replica following the deny-list (store.RevocationFeed) adds it
-- to the copy it keeps in memory. A trigger calls pg_notify in the
-- inserting transaction, so the notice is delivered on commit and only
-- then; a revocation that rolls back announces nothing. The payload is
-- "TABLE_OID EXPIRES_AT_MS JTI": notifications are per database, not per
-- schema, so a listener keeps only those of its own table.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION keystile_notify_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keystile_revocations',
        TG_RELID::text || ' ' ||
        (extract(epoch FROM NEW.expires_at) * 1000)::bigint::text || ' ' ||
        NEW.jti);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER revoked_access_tokens_notify
    AFTER INSERT OR UPDATE ON revoked_access_tokens
    FOR EACH ROW EXECUTE FUNCTION keystile_notify_revocation();

-- +goose Down
DROP TRIGGER revoked_access_tokens_notify ON revoked_access_tokens;
DROP FUNCTION keystile_notify_revocation();
