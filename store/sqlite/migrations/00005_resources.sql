-- RFC 8707 resource indicators: the APIs a pending request, a code and a
-- refresh-token family were granted. JSON text like scope; rows from before
-- this migration name no resource.

-- +goose Up
ALTER TABLE auth_requests ADD COLUMN resources TEXT NOT NULL DEFAULT 'null';
ALTER TABLE auth_codes ADD COLUMN resources TEXT NOT NULL DEFAULT 'null';
ALTER TABLE refresh_tokens ADD COLUMN resources TEXT NOT NULL DEFAULT 'null';

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN resources;
ALTER TABLE auth_codes DROP COLUMN resources;
ALTER TABLE auth_requests DROP COLUMN resources;
