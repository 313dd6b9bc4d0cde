package memory

import (
	"context"
	"time"

	"github.com/keystile/keystile/store"
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
	// Under mu, so that followers hear of revocations one at a time and
	// none between a follower's Reset and its registration.
	for f := range s.followers {
		(*f).Add(store.Revocation{JTI: jti, ExpiresAt: s.revoked[jti]})
	}
	return nil
}

// FollowRevocations implements [store.RevocationFeed]: every revocation is
// in this process, so a follower is told of each as it is made, and is
// never lost.
func (s *Store) FollowRevocations(ctx context.Context, sink store.RevocationSink) error {
	s.mu.Lock()
	live := make([]store.Revocation, 0, len(s.revoked))
	for jti, exp := range s.revoked {
		live = append(live, store.Revocation{JTI: jti, ExpiresAt: exp})
	}
	sink.Reset(live)
	key := &sink // any sink, comparable or not, has a key of its own
	s.followers[key] = struct{}{}
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	delete(s.followers, key)
	s.mu.Unlock()
	return ctx.Err()
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
