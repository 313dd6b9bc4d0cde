package postgres

import (
	"context"
	"fmt"
	"time"
)

const (
	// Revoking again keeps the later expiry: a second call may extend the
	// entry, never cut it short.
	revokeAccessTokenSQL = `INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE
		SET expires_at = greatest(revoked_access_tokens.expires_at, excluded.expires_at)`
	accessTokenRevokedSQL = `SELECT true FROM revoked_access_tokens WHERE jti = $1`
)

// RevokeAccessToken implements [store.AccessTokenRevocations].
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" {
		return errEmptyKey
	}
	if _, err := s.pool.Exec(ctx, revokeAccessTokenSQL, jti, ms(expiresAt)); err != nil {
		return fmt.Errorf("postgres: revoke access token: %w", err)
	}
	return nil
}

// AccessTokenRevoked implements [store.AccessTokenRevocations].
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	var revoked bool
	err := s.pool.QueryRow(ctx, accessTokenRevokedSQL, jti).Scan(&revoked)
	switch {
	case isNoRows(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("postgres: access token revoked: %w", err)
	}
	return true, nil
}
