-- RFC 8707 resource indicators for the device grant: the APIs a device
-- authorization was granted, JSON text like scope. Rows from before this
-- migration name no resource, as they were issued.

-- +goose Up
ALTER TABLE device_codes ADD COLUMN resources text NOT NULL DEFAULT 'null';

-- +goose Down
ALTER TABLE device_codes DROP COLUMN resources;
