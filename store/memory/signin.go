package memory

import (
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// CompleteSignIn implements [store.SignIns]. Every check comes before any
// change, all under one lock, so a refused sign-in changes nothing and of
// concurrent ones with one request exactly one wins.
func (s *Store) CompleteSignIn(ctx context.Context, in store.SignIn, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(in.RequestIDHash) == 0 || len(in.Code.Hash) == 0 {
		return errEmptyKey
	}
	codeClaims, err := encodeClaims(in.Code.Claims)
	if err != nil {
		return err
	}
	code := copyCode(in.Code)
	code.Claims = nil
	withSession := len(in.Session.IDHash) > 0
	var sess sessionEntry
	if withSession {
		claims, err := encodeClaims(in.Session.Claims)
		if err != nil {
			return err
		}
		sess = sessionEntry{session: copySession(in.Session), claims: claims}
		sess.session.Claims = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.used[string(in.RequestIDHash)]; ok && live(exp, now) {
		return store.ErrReused
	}
	if _, ok := s.codes[string(code.Hash)]; ok {
		return store.ErrDuplicate
	}
	if withSession {
		// The previous session is deleted only after this check: a next
		// id equal to it is taken.
		if _, ok := s.sessions[string(sess.session.IDHash)]; ok {
			return store.ErrDuplicate
		}
	}
	s.used[string(in.RequestIDHash)] = normTime(in.RequestExpiresAt)
	if withSession {
		switch {
		case in.RenewPrevious && s.liveSessionLocked(in.Previous, now):
			s.renewSessionLocked(in.Previous, sess)
		case in.RenewPrevious:
			// It ended or expired since the caller read it: nothing is
			// left to carry over.
			s.sessions[string(sess.session.IDHash)] = sess
		default:
			s.endSessionLocked(in.Previous, true)
			s.sessions[string(sess.session.IDHash)] = sess
		}
	}
	s.codes[string(code.Hash)] = codeEntry{code: code, claims: codeClaims}
	return nil
}
