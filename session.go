package keystile

import (
	"context"
	"errors"
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

// startSession signs the browser in: a new session id every time (never the
// one the browser brought, so a planted id is useless: session fixation), and
// the old session, if any, ended.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, id Identity, authTime time.Time) ([]byte, error) {
	if !s.ssoEnabled() {
		return nil, nil
	}
	if c, err := r.Cookie(s.sessionCookieName()); err == nil && validCookieSecret(c.Value) {
		if err := s.store.EndSession(r.Context(), hashSecret(c.Value), false); err != nil {
			return nil, err
		}
	}
	value := newSecret()
	idHash := hashSecret(value)
	err := s.store.CreateSession(r.Context(), store.Session{
		IDHash:    idHash,
		Subject:   id.Subject,
		Claims:    id.Claims,
		AuthTime:  authTime,
		ExpiresAt: authTime.Add(s.cfg.SessionTTL),
	})
	if err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     s.sessionCookieName(),
		Value:    value,
		Path:     "/",
		MaxAge:   int(s.cfg.SessionTTL / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
	return idHash, nil
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
