package keystile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keystile/keystile/store"
)

// sessionCookieName names the single sign-on cookie; __Host- on https
// issuers, for the reasons given at browserCookieName.
func (s *Server) sessionCookieName() string {
	if s.secure {
		return "__Host-keystile_session"
	}
	return "keystile_session"
}

// ssoEnabled reports whether browsers stay signed in between requests.
func (s *Server) ssoEnabled() bool { return s.cfg.SessionTTL > 0 }

// currentSession returns the browser's live session and its cookie value, or
// ok=false when there is none. A store failure is returned as an error: the
// caller must not treat it as "signed out and carry on" silently where that
// would matter, but showing the login form is always safe.
func (s *Server) currentSession(r *http.Request) (sess store.Session, cookie string, ok bool, err error) {
	if !s.ssoEnabled() {
		return store.Session{}, "", false, nil
	}
	c, cerr := r.Cookie(s.sessionCookieName())
	if cerr != nil || !validCookieSecret(c.Value) {
		return store.Session{}, "", false, nil
	}
	sess, err = s.store.GetSession(r.Context(), hashSecret(c.Value), s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Session{}, "", false, nil
	case err != nil:
		return store.Session{}, "", false, err
	}
	return sess, c.Value, true, nil
}

// startSession signs the browser in and returns the new session's id hash.
// The browser always gets a new session id, never the one it brought, so a
// planted id is useless (session fixation, OWASP ASVS V7.2.4). What happens
// to the session it brought, if that one is live, depends on who signed in:
//
//   - The same user again (prompt=login, max_age): the old session is
//     renewed into the new one ([store.Sessions.RenewSession]), so the
//     refresh tokens and codes issued before this sign-in follow the browser
//     and a later sign-out still revokes them. Ending the old session
//     instead would orphan them: no sign-out could ever reach them again.
//   - Another user (a shared browser): the old session is ended and its
//     refresh tokens are revoked, exactly as if the first user had signed
//     out. Every token of that session was issued to an app in this browser
//     (or on this machine, for a native app using the system browser), which
//     now belongs to someone else; leaving the first user's grants alive
//     would let the second keep using them, with no sign-out left that could
//     end them.
//
// A session that is missing or expired is simply replaced. The login form
// does the same through [store.SignIns.CompleteSignIn], together with its
// code, as one store step (handleLogin).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, id Identity, authTime time.Time) ([]byte, error) {
	if !s.ssoEnabled() {
		return nil, nil
	}
	value, next := s.newSession(id, authTime)
	if err := s.replaceSession(r, next); err != nil {
		return nil, err
	}
	s.setSessionCookie(w, value)
	return next.IDHash, nil
}

// newSession returns a new session for id, signed in at authTime, and the
// cookie value that names it.
func (s *Server) newSession(id Identity, authTime time.Time) (string, store.Session) {
	value := newSecret()
	return value, store.Session{
		IDHash:    hashSecret(value),
		Subject:   id.Subject,
		Claims:    id.Claims,
		AuthTime:  authTime,
		ExpiresAt: authTime.Add(s.cfg.SessionTTL),
	}
}

// setSessionCookie gives the browser its session, once the store has it.
func (s *Server) setSessionCookie(w http.ResponseWriter, value string) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.sessionCookieName(),
		Value:    value,
		Path:     "/",
		MaxAge:   int(s.cfg.SessionTTL / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// previousSession reads the live session the browser brings, if any, and
// says whether a sign-in by subject renews it (the same user) or ends it
// (another), as startSession describes.
func (s *Server) previousSession(r *http.Request, subject string) (idHash []byte, renew bool, err error) {
	old, _, ok, err := s.currentSession(r)
	if err != nil {
		return nil, false, fmt.Errorf("read the browser's session: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	return old.IDHash, old.Subject == subject, nil
}

// replaceSession stores next in place of the session the browser brings, as
// startSession describes.
func (s *Server) replaceSession(r *http.Request, next store.Session) error {
	ctx := r.Context()
	old, renew, err := s.previousSession(r, next.Subject)
	if err != nil {
		return err
	}
	switch {
	case old != nil && renew:
		err := s.store.RenewSession(ctx, old, next, s.now())
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("renew the session: %w", err)
		}
		// The old session ended or expired since it was read (a sign-out
		// or another sign-in in another tab won the race): nothing is left
		// to carry over.
	case old != nil:
		if err := s.store.EndSession(ctx, old, true); err != nil {
			return fmt.Errorf("end the previous user's session: %w", err)
		}
	}
	return s.store.CreateSession(ctx, next)
}

// clearSessionCookie tells the browser to forget its session.
func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.sessionCookieName(),
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// currentIdentity re-reads a user through LookupUser when it is configured,
// so that a disabled user gets nothing and tokens carry current claims;
// without it, the identity captured at sign-in stands.
func (s *Server) currentIdentity(ctx context.Context, subject string, captured map[string]any) (Identity, error) {
	if s.cfg.LookupUser == nil {
		return Identity{Subject: subject, Claims: captured}, nil
	}
	id, err := s.cfg.LookupUser(ctx, subject)
	if err != nil {
		return Identity{}, err
	}
	if id.Subject != subject {
		return Identity{}, errors.New("LookupUser returned another subject")
	}
	return id, nil
}
