package memory

import (
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// codeEntry is a stored code: the record without its claims, which are kept
// as JSON so that every read decodes a fresh, unshared copy.
type codeEntry struct {
	code   store.AuthCode // Claims is always nil here
	claims []byte
}

// CreateCode implements [store.Codes].
func (s *Store) CreateCode(ctx context.Context, c store.AuthCode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(c.Hash) == 0 {
		return errEmptyKey
	}
	claims, err := encodeClaims(c.Claims)
	if err != nil {
		return err
	}
	c = copyCode(c)
	c.Claims = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(c.Hash)
	if _, ok := s.codes[k]; ok {
		return store.ErrDuplicate
	}
	s.codes[k] = codeEntry{code: c, claims: claims}
	return nil
}

// ConsumeCode implements [store.Codes]. The lookup and the delete happen
// under one lock, so two concurrent redemptions cannot both win.
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error) {
	if err := ctx.Err(); err != nil {
		return store.AuthCode{}, err
	}
	e, err := s.takeCode(hash, now)
	if err != nil {
		return store.AuthCode{}, err
	}
	// Decoding happens outside the lock: the entry is already ours alone.
	c := e.code
	if c.Claims, err = decodeClaims(e.claims); err != nil {
		return store.AuthCode{}, err
	}
	return c, nil
}

func (s *Store) takeCode(hash []byte, now time.Time) (codeEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(hash)
	e, ok := s.codes[k]
	if !ok || !live(e.code.ExpiresAt, now) {
		return codeEntry{}, store.ErrNotFound
	}
	delete(s.codes, k)
	return e, nil
}

// copyCode returns c with its own copies of every slice and normalised
// times; Claims is left for the caller, which copies it through JSON.
func copyCode(c store.AuthCode) store.AuthCode {
	c.Hash = cloneBytes(c.Hash)
	c.Scope = cloneStrings(c.Scope)
	c.AuthTime = normTime(c.AuthTime)
	c.ExpiresAt = normTime(c.ExpiresAt)
	return c
}
