package sqlite

import (
	"context"
	"fmt"
	"time"
)

const (
	// Revoking again keeps the later expiry: a second call may extend the
	// entry, never cut it short.
	revokeAccessTokenSQL = `INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?)
		ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`
	accessTokenRevokedSQL = `SELECT 1 FROM revoked_access_tokens WHERE jti = ?`
)

// RevokeAccessToken implements [store.AccessTokenRevocations].
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" {
		return errEmptyKey
	}
	if _, err := s.revokeAccessToken.ExecContext(ctx, jti, millis(expiresAt)); err != nil {
		return fmt.Errorf("sqlite: revoke access token: %w", err)
	}
	return nil
}

// AccessTokenRevoked implements [store.AccessTokenRevocations].
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	var one int
	err := s.accessTokenRevoked.QueryRowContext(ctx, jti).Scan(&one)
	switch {
	case isNoRows(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sqlite: access token revoked: %w", err)
	}
	return true, nil
}
