package memory

import (
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// CreateAuthRequest implements [store.AuthRequests].
func (s *Store) CreateAuthRequest(ctx context.Context, r store.AuthRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(r.IDHash) == 0 {
		return errEmptyKey
	}
	r = copyRequest(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(r.IDHash)
	if _, ok := s.requests[k]; ok {
		return store.ErrDuplicate
	}
	s.requests[k] = r
	return nil
}

// GetAuthRequest implements [store.AuthRequests].
func (s *Store) GetAuthRequest(ctx context.Context, idHash []byte, now time.Time) (store.AuthRequest, error) {
	if err := ctx.Err(); err != nil {
		return store.AuthRequest{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[string(idHash)]
	if !ok || !live(r.ExpiresAt, now) {
		return store.AuthRequest{}, store.ErrNotFound
	}
	return copyRequest(r), nil
}

// ConsumeAuthRequest implements [store.AuthRequests]. The lookup and the
// delete happen under one lock, so a request yields at most one winner.
func (s *Store) ConsumeAuthRequest(ctx context.Context, idHash []byte, now time.Time) (store.AuthRequest, error) {
	if err := ctx.Err(); err != nil {
		return store.AuthRequest{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(idHash)
	r, ok := s.requests[k]
	if !ok || !live(r.ExpiresAt, now) {
		return store.AuthRequest{}, store.ErrNotFound
	}
	delete(s.requests, k)
	// The stored copy left the map just now, so nobody else can reach its
	// slices: it can be handed out without copying again.
	return r, nil
}

// copyRequest returns r with its own copies of every slice and normalised
// times, so that neither the caller nor the map can see the other's changes.
func copyRequest(r store.AuthRequest) store.AuthRequest {
	r.IDHash = cloneBytes(r.IDHash)
	r.BrowserHash = cloneBytes(r.BrowserHash)
	r.CSRFHash = cloneBytes(r.CSRFHash)
	r.Scope = cloneStrings(r.Scope)
	r.Resources = cloneStrings(r.Resources)
	r.ExpiresAt = normTime(r.ExpiresAt)
	return r
}
