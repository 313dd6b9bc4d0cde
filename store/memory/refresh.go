package memory

import (
	"context"
	"errors"
	"time"

	"github.com/keystile/keystile/store"
)

// family is what the tokens of one family share. The session and the
// absolute expiry are the family's, fixed by its first token, so that no
// rotation can extend or move them.
type family struct {
	sessionHash []byte
	revoked     bool
	expiresAt   time.Time
}

// refreshEntry is a stored refresh token: the record without its claims
// (kept as JSON) and without what its family holds (SessionIDHash,
// FamilyExpiresAt), which are filled in from the family on the way out.
type refreshEntry struct {
	token  store.RefreshToken
	claims []byte
}

var errOtherFamily = errors.New("memory: rotate refresh token: next token is in another family")

// CreateRefreshToken implements [store.RefreshTokens]. The first token of a
// family creates it, with the token's SessionIDHash and FamilyExpiresAt; a
// token created in a family that exists takes the family's, and one created
// in a revoked family is revoked from birth. t.UsedAt is ignored: a new
// token is unused.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e, err := newRefreshEntry(t)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createRefreshLocked(e, t)
}

// createRefreshLocked stores e, made from t, and its family if it has none
// yet; ErrDuplicate, changing nothing, if its hash is taken.
func (s *Store) createRefreshLocked(e refreshEntry, t store.RefreshToken) error {
	k := string(e.token.Hash)
	if _, ok := s.refresh[k]; ok {
		return store.ErrDuplicate
	}
	if _, ok := s.families[t.FamilyID]; !ok {
		s.families[t.FamilyID] = family{
			sessionHash: cloneBytes(t.SessionIDHash),
			expiresAt:   normTime(t.FamilyExpiresAt),
		}
	}
	s.refresh[k] = e
	return nil
}

// GetRefreshToken implements [store.RefreshTokens].
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte, now time.Time) (store.RefreshToken, error) {
	if err := ctx.Err(); err != nil {
		return store.RefreshToken{}, err
	}
	s.mu.Lock()
	e, f, err := s.liveRefreshLocked(hash, now)
	s.mu.Unlock()
	if err != nil {
		return store.RefreshToken{}, err
	}
	return e.out(f)
}

// RotateRefreshToken implements [store.RefreshTokens]. Every check and
// change happens under one lock, so of concurrent rotations of one token
// exactly one finds it unused.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ne, err := newRefreshEntry(next)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.refresh[string(oldHash)]
	if !ok {
		return store.ErrNotFound
	}
	f, ok := s.families[old.token.FamilyID]
	if !ok || !live(f.expiresAt, now) || !live(old.token.ExpiresAt, now) {
		return store.ErrNotFound
	}
	// A used token is reported as reused even once its family is revoked,
	// so that every replay, not only the first, is seen as one.
	if !old.token.UsedAt.IsZero() {
		// RFC 9700 §4.14.2: the server cannot tell the legitimate client
		// from the thief, so the whole family goes.
		s.revokeFamilyLocked(old.token.FamilyID, time.Time{})
		return store.ErrReused
	}
	if f.revoked {
		return store.ErrNotFound
	}
	if next.FamilyID != old.token.FamilyID {
		return errOtherFamily
	}
	nk := string(ne.token.Hash)
	if _, ok := s.refresh[nk]; ok {
		return store.ErrDuplicate
	}
	old.token.UsedAt = normTime(now)
	s.refresh[string(oldHash)] = old
	s.refresh[nk] = ne
	return nil
}

// RevokeFamily implements [store.RefreshTokens].
func (s *Store) RevokeFamily(ctx context.Context, familyID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeFamilyLocked(familyID, time.Time{})
	return nil
}

// revokeFamilyLocked revokes the family. A family that does not exist is
// recorded as revoked until keepUntil, if that is set, so that a token
// created in it before then is born revoked; with keepUntil zero an unknown
// family is left alone, as there is no time to forget it by.
func (s *Store) revokeFamilyLocked(id string, keepUntil time.Time) {
	if id == "" {
		return
	}
	f, ok := s.families[id]
	if !ok && keepUntil.IsZero() {
		return
	}
	if !ok {
		f.expiresAt = normTime(keepUntil)
	}
	f.revoked = true
	s.families[id] = f
}

// liveRefreshLocked returns the token and its family if the token is usable
// at now (used or not); ErrNotFound otherwise.
func (s *Store) liveRefreshLocked(hash []byte, now time.Time) (refreshEntry, family, error) {
	e, ok := s.refresh[string(hash)]
	if !ok {
		return refreshEntry{}, family{}, store.ErrNotFound
	}
	f, ok := s.families[e.token.FamilyID]
	if !ok || f.revoked || !live(f.expiresAt, now) || !live(e.token.ExpiresAt, now) {
		return refreshEntry{}, family{}, store.ErrNotFound
	}
	return e, f, nil
}

// newRefreshEntry validates and copies t for storing.
func newRefreshEntry(t store.RefreshToken) (refreshEntry, error) {
	if len(t.Hash) == 0 || t.FamilyID == "" {
		return refreshEntry{}, errEmptyKey
	}
	claims, err := encodeClaims(t.Claims)
	if err != nil {
		return refreshEntry{}, err
	}
	t.Hash = cloneBytes(t.Hash)
	t.Scope = cloneStrings(t.Scope)
	t.Resources = cloneStrings(t.Resources)
	t.AuthTime = normTime(t.AuthTime)
	t.IssuedAt = normTime(t.IssuedAt)
	t.ExpiresAt = normTime(t.ExpiresAt)
	t.Claims, t.SessionIDHash, t.FamilyExpiresAt, t.UsedAt = nil, nil, time.Time{}, time.Time{}
	return refreshEntry{token: t, claims: claims}, nil
}

// out returns a caller's copy of the token, with its family's fields.
func (e refreshEntry) out(f family) (store.RefreshToken, error) {
	t := e.token
	t.Hash = cloneBytes(t.Hash)
	t.Scope = cloneStrings(t.Scope)
	t.Resources = cloneStrings(t.Resources)
	t.SessionIDHash = cloneBytes(f.sessionHash)
	t.FamilyExpiresAt = f.expiresAt
	var err error
	if t.Claims, err = decodeClaims(e.claims); err != nil {
		return store.RefreshToken{}, err
	}
	return t, nil
}
