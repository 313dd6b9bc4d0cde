package memory

import (
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// codeEntry is a stored code: the record without its claims, which are kept
// as JSON so that every read decodes a fresh, unshared copy. Entries are
// replaced, never changed in place, so a copy taken under the lock stays
// valid after it.
type codeEntry struct {
	code   store.AuthCode // Claims is always nil here
	claims []byte
	used   bool
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

// useCodeLocked marks the code used and reports whether it already was,
// revoking its family in that case.
func (s *Store) useCodeLocked(hash []byte, now time.Time) (e codeEntry, reused bool, err error) {
	k := string(hash)
	e, ok := s.codes[k]
	if !ok || !live(e.code.ExpiresAt, now) {
		return codeEntry{}, false, store.ErrNotFound
	}
	if e.used {
		// The family may not exist yet: the winning redemption may still be
		// on its way to creating the first refresh token. Revoking it as a
		// record of its own makes that token born revoked.
		s.revokeFamilyLocked(e.code.FamilyID, e.code.ExpiresAt)
		return e, true, nil
	}
	used := e
	used.used = true
	s.codes[k] = used
	return e, false, nil
}

// copyCode returns c with its own copies of every slice and normalised
// times; Claims is left for the caller, which copies it through JSON.
func copyCode(c store.AuthCode) store.AuthCode {
	c.Hash = cloneBytes(c.Hash)
	c.Scope = cloneStrings(c.Scope)
	c.Resources = cloneStrings(c.Resources)
	c.SessionIDHash = cloneBytes(c.SessionIDHash)
	c.AuthTime = normTime(c.AuthTime)
	c.ExpiresAt = normTime(c.ExpiresAt)
	return c
}

// RedeemCode implements [store.Codes]. The lookup, the mark (or, for a
// replay, the family's revocation), issue and the token's creation happen
// under one lock, so two concurrent redemptions cannot both win. On a
// failure after the code was marked used, its entry as it was is put back.
func (s *Store) RedeemCode(ctx context.Context, hash []byte, now time.Time, issue func(store.AuthCode) (*store.RefreshToken, error)) (store.AuthCode, error) {
	if err := ctx.Err(); err != nil {
		return store.AuthCode{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, reused, err := s.useCodeLocked(hash, now)
	if err != nil {
		return store.AuthCode{}, err
	}
	c, err := e.out()
	if err == nil && reused {
		return c, store.ErrReused
	}
	var t *store.RefreshToken
	var refused error
	if err == nil {
		t, refused = issue(c)
	}
	if refused == nil && t != nil && c.FamilyID == "" {
		refused = errLoneToken
	}
	if err == nil && refused == nil && t != nil {
		var re refreshEntry
		if re, err = newRefreshEntry(*t); err == nil {
			err = s.createRefreshLocked(re, *t)
		}
	}
	if err != nil {
		s.codes[string(hash)] = e
		return store.AuthCode{}, err
	}
	return c, refused
}

// out is the code e holds, with its claims decoded afresh.
func (e codeEntry) out() (store.AuthCode, error) {
	c := copyCode(e.code)
	var err error
	c.Claims, err = decodeClaims(e.claims)
	return c, err
}
