-- Used request ids and authorization codes live for minutes, so their
-- tables stay small: DeleteExpired's scan of them costs little. Their
-- expires_at indexes, though, cost every sign-in and every code exchange a
-- page more per table written to the WAL (and copied again at the
-- checkpoint): 17.3 pwrites per sign-in with them, docs/performance.md.

-- +goose Up
DROP INDEX used_requests_expires_at;
DROP INDEX auth_codes_expires_at;

-- +goose Down
CREATE INDEX used_requests_expires_at ON used_requests (expires_at);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);
