package memory

import (
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// UseRequest implements [store.UsedRequests]. The check and the record
// happen under one lock, so of concurrent uses exactly one wins.
func (s *Store) UseRequest(ctx context.Context, idHash []byte, expiresAt, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(idHash) == 0 {
		return errEmptyKey
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(idHash)
	if exp, ok := s.used[k]; ok && live(exp, now) {
		return store.ErrReused
	}
	s.used[k] = normTime(expiresAt)
	return nil
}
