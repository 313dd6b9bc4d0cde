package keystile

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/keystile/keystile/store"
)

// Bounds on the login form's fields, checked before any hashing.
const (
	maxUsernameLen = 256
	maxPasswordLen = 1024
)

var errLoginExpired = oauthError(codeInvalidRequest, "This sign-in page has expired or was already used. Go back to the application and start again.").withTitle(titleExpired)

// handleLogin serves the login form's POST. The form carries its pending
// /authorize request sealed (pending.go) as its request_id, bound to the
// browser that started it by the binding cookie and to the page by its CSRF
// token; all three must match. Bad credentials show the form again with one message whether the
// user is unknown or the password wrong; success issues a code and sends the
// browser back to the client with 303 (RFC 9700 §4.11).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	p, ok := s.readPageForm(w, r)
	if !ok {
		return
	}
	requestID := p["request_id"]
	ctx := r.Context()
	now := s.now()
	pending, ok := s.openPending(requestID, now)
	if !ok {
		s.errorPage(w, r, errLoginExpired)
		return
	}
	if !s.sameBrowser(r, pending) || !equalHash(hashSecret(p["csrf_token"]), pending.CSRFHash) {
		s.errorPage(w, r, oauthError(codeAccessDenied, "This sign-in page was not opened in this browser. Go back to the application and start again.").withStatus(http.StatusForbidden))
		return
	}
	client, ok := s.client(pending.ClientID)
	// The client, or this redirect URI, may have been removed from the
	// configuration since the request was stored: never redirect there.
	if !ok || !client.matchRedirectURI(pending.RedirectURI) {
		s.errorPage(w, r, errLoginExpired)
		return
	}
	username, password := p["username"], p["password"]
	view := loginView{ClientName: client.Name, RequestID: requestID, CSRFToken: p["csrf_token"], Username: username, Scopes: pending.Scope, Resources: pending.Resources}
	id, refused, err := s.checkCredentials(w, r, username, password, now, "client_id", client.ID)
	switch {
	case err != nil:
		s.errorPage(w, r, serverError(err))
		return
	case refused != nil:
		view.Error = refused.message
		s.renderLogin(w, refused.status, view)
		return
	}
	// One store step records the request as used, starts the browser's
	// session and stores the code, atomically: one sign-in, one code, even
	// if the form is posted twice at once or replayed later, and a failure
	// leaves nothing half-written (the form can be posted again). Only a
	// successful sign-in writes to the store.
	in := store.SignIn{RequestIDHash: pending.usedKey(), RequestExpiresAt: pending.expiresAt()}
	var cookie string
	if s.ssoEnabled() {
		cookie, in.Session = s.newSession(id, now)
		if in.Previous, in.RenewPrevious, err = s.previousSession(r, id.Subject); err != nil {
			s.errorPage(w, r, serverError(err))
			return
		}
	}
	g := codeGrant{
		grant: grant{
			client:    client,
			subject:   id.Subject,
			claims:    id.Claims,
			scope:     pending.Scope,
			resources: pending.Resources,
			authTime:  now,
			nonce:     string(pending.Nonce),
		},
		redirectURI: pending.RedirectURI,
		state:       string(pending.State),
		challenge:   pending.Challenge,
		sessionHash: in.Session.IDHash,
	}
	code, rec := s.newCode(g)
	in.Code = rec
	err = s.store.CompleteSignIn(ctx, in, now)
	switch {
	case errors.Is(err, store.ErrReused):
		s.errorPage(w, r, errLoginExpired)
		return
	case err != nil:
		s.errorPage(w, r, serverError(err))
		return
	}
	if cookie != "" {
		s.setSessionCookie(w, cookie)
	}
	s.redirectCode(w, r, g, code)
}

// sameBrowser reports whether the request carries the binding cookie of the
// browser that started the pending request.
func (s *Server) sameBrowser(r *http.Request, pending pendingLogin) bool {
	c, err := r.Cookie(s.browserCookieName())
	if err != nil || !validCookieSecret(c.Value) {
		return false
	}
	return equalHash(hashSecret(c.Value), pending.BrowserHash)
}

func equalHash(a, b []byte) bool {
	return len(b) > 0 && subtle.ConstantTimeCompare(a, b) == 1
}
