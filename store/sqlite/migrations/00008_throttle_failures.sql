-- The login throttle's failures per key (store.Throttles), so that
-- replicas sharing the database share each account's budget. Keys are
-- SHA-256 hashes (a mistyped password often lands in a username); times
-- are unix milliseconds. A row lapses at window_end.

-- +goose Up
CREATE TABLE throttle_failures (
    key_hash   BLOB    NOT NULL PRIMARY KEY CHECK (length(key_hash) > 0),
    failures   INTEGER NOT NULL,
    streak     INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    window_end INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- DeleteExpired scans by the end of the window.
CREATE INDEX throttle_failures_window_end ON throttle_failures (window_end);

-- +goose Down
DROP TABLE throttle_failures;
