package sqlstore

import (
	"context"
	"time"
)

const (
	// Revoking again keeps the later expiry: a second call may extend the
	// entry, never cut it short. The conflict's WHERE says so in a syntax
	// both databases share, where SQLite's max() and PostgreSQL's
	// greatest() differ.
	revokeAccessTokenSQL = `INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at
		WHERE excluded.expires_at > revoked_access_tokens.expires_at`
	accessTokenRevokedSQL = `SELECT 1 FROM revoked_access_tokens WHERE jti = $1`
)

// RevokeAccessToken implements [store.AccessTokenRevocations].
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	const op = "revoke access token"
	if jti == "" {
		return s.fail(op, errEmptyKey)
	}
	if _, err := s.db.Exec(ctx, revokeAccessToken, jti, s.timeArg(expiresAt)); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// AccessTokenRevoked implements [store.AccessTokenRevocations].
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	var one int
	err := s.db.QueryRow(ctx, accessTokenRevoked, jti).Scan(&one)
	switch {
	case isNoRows(err):
		return false, nil
	case err != nil:
		return false, s.fail("access token revoked", err)
	}
	return true, nil
}
