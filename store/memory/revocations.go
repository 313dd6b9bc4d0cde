package memory

import (
	"context"
	"time"
)

// RevokeAccessToken implements [store.AccessTokenRevocations]. Revoking again
// keeps the later of the two expiries, so that a second call can only extend
// the entry, never cut it short.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if jti == "" {
		return errEmptyKey
	}
	expiresAt = normTime(expiresAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.revoked[jti]; !ok || expiresAt.After(old) {
		s.revoked[jti] = expiresAt
	}
	return nil
}

// AccessTokenRevoked implements [store.AccessTokenRevocations].
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.revoked[jti]
	return ok, nil
}
