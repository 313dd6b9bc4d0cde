-- The login throttle's failures per key (store.Throttles), so that
-- replicas sharing the database share each account's budget. Keys are
-- SHA-256 hashes (a mistyped password often lands in a username). A row
-- lapses at window_end.

-- +goose Up
CREATE TABLE throttle_failures (
    key_hash   bytea       NOT NULL PRIMARY KEY CHECK (length(key_hash) > 0),
    failures   integer     NOT NULL,
    streak     integer     NOT NULL,
    last_at    timestamptz NOT NULL,
    window_end timestamptz NOT NULL
);

-- DeleteExpired scans by the end of the window.
CREATE INDEX throttle_failures_window_end ON throttle_failures (window_end);

-- +goose Down
DROP TABLE throttle_failures;
