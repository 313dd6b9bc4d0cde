package memory

import (
	"bytes"
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// sessionEntry is a stored session, its claims kept as JSON like a code's.
type sessionEntry struct {
	session store.Session // Claims is always nil here
	claims  []byte
}

// CreateSession implements [store.Sessions].
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(sess.IDHash) == 0 {
		return errEmptyKey
	}
	claims, err := encodeClaims(sess.Claims)
	if err != nil {
		return err
	}
	sess = copySession(sess)
	sess.Claims = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(sess.IDHash)
	if _, ok := s.sessions[k]; ok {
		return store.ErrDuplicate
	}
	s.sessions[k] = sessionEntry{session: sess, claims: claims}
	return nil
}

// GetSession implements [store.Sessions].
func (s *Store) GetSession(ctx context.Context, idHash []byte, now time.Time) (store.Session, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, err
	}
	s.mu.Lock()
	e, ok := s.sessions[string(idHash)]
	s.mu.Unlock()
	if !ok || !live(e.session.ExpiresAt, now) {
		return store.Session{}, store.ErrNotFound
	}
	sess := copySession(e.session)
	var err error
	if sess.Claims, err = decodeClaims(e.claims); err != nil {
		return store.Session{}, err
	}
	return sess, nil
}

// EndSession implements [store.Sessions]. The delete and the revocations
// happen under one lock, so no refresh succeeds "between" them.
func (s *Store) EndSession(ctx context.Context, idHash []byte, revokeTokens bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endSessionLocked(idHash, revokeTokens)
	return nil
}

// endSessionLocked is EndSession with s.mu held.
func (s *Store) endSessionLocked(idHash []byte, revokeTokens bool) {
	delete(s.sessions, string(idHash))
	// An empty hash names no session; it must not match the families that
	// were issued outside any session.
	if !revokeTokens || len(idHash) == 0 {
		return
	}
	for id, f := range s.families {
		if bytes.Equal(f.sessionHash, idHash) {
			f.revoked = true
			s.families[id] = f
		}
	}
}

// RenewSession implements [store.Sessions]. Every check and change happens
// under one lock, so of concurrent renewals of one session exactly one finds
// it, and no refresh or redemption sees the grants between two sessions.
func (s *Store) RenewSession(ctx context.Context, oldIDHash []byte, next store.Session, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(next.IDHash) == 0 {
		return errEmptyKey
	}
	claims, err := encodeClaims(next.Claims)
	if err != nil {
		return err
	}
	next = copySession(next)
	next.Claims = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.liveSessionLocked(oldIDHash, now) {
		return store.ErrNotFound
	}
	if _, ok := s.sessions[string(next.IDHash)]; ok {
		return store.ErrDuplicate
	}
	s.renewSessionLocked(oldIDHash, sessionEntry{session: next, claims: claims})
	return nil
}

// liveSessionLocked reports whether the session idHash is live at now, with
// s.mu held. An empty hash names no session, so it is never found and never
// matches the families and codes issued outside any session.
func (s *Store) liveSessionLocked(idHash []byte, now time.Time) bool {
	e, ok := s.sessions[string(idHash)]
	return len(idHash) > 0 && ok && live(e.session.ExpiresAt, now)
}

// renewSessionLocked moves the grants of the live session oldIDHash to
// next, stores next and deletes the old one, with s.mu held; the caller has
// checked that next's id is free.
func (s *Store) renewSessionLocked(oldIDHash []byte, next sessionEntry) {
	nextID := next.session.IDHash
	s.sessions[string(nextID)] = next
	for id, f := range s.families {
		if bytes.Equal(f.sessionHash, oldIDHash) {
			f.sessionHash = cloneBytes(nextID)
			s.families[id] = f
		}
	}
	for h, e := range s.codes {
		if bytes.Equal(e.code.SessionIDHash, oldIDHash) {
			// Entries are replaced, never changed in place (see codeEntry).
			e.code = copyCode(e.code)
			e.code.SessionIDHash = cloneBytes(nextID)
			s.codes[h] = e
		}
	}
	delete(s.sessions, string(oldIDHash))
}

func copySession(sess store.Session) store.Session {
	sess.IDHash = cloneBytes(sess.IDHash)
	sess.AuthTime = normTime(sess.AuthTime)
	sess.ExpiresAt = normTime(sess.ExpiresAt)
	return sess
}
