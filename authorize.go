package keystile

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keystile/keystile/store"
)

// Bounds on values that /authorize stores and echoes.
const (
	maxStateLen = 2048
	maxNonceLen = 512
)

// authRequest is a parsed, validated /authorize request.
type authRequest struct {
	client      *Client
	redirectURI string
	state       string
	challenge   string
	nonce       string
	scope       []string
	resources   []string      // RFC 8707: the resources granted (authorizeResources)
	promptNone  bool          // OIDC prompt=none: never show the form
	promptLogin bool          // OIDC prompt=login: always show the form
	maxAge      time.Duration // OIDC max_age; -1 when absent
}

// handleAuthorize serves GET and POST /authorize (RFC 6749 §4.1.1; POST
// behaves like GET, OIDC Core §3.1.2.1). A request whose client or redirect
// URI cannot be trusted gets an error page; once both are known good, every
// other error goes back to the client by redirect, with state and iss
// (RFC 9207). A valid request shows the login form.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	values, err := authorizeValues(r)
	if err != nil {
		s.errorPage(w, r, oauthError(codeInvalidRequest, "The request could not be read."))
		return
	}
	p, repeated, perr := singleValues(values)
	ar, pageErr := s.authorizeClient(p, repeated, perr)
	if pageErr != nil {
		s.errorPage(w, r, pageErr)
		return
	}
	if perr != nil {
		// Only the state is echoed, and only when it was sent once.
		s.redirectError(w, r, ar.redirectURI, ar.state, perr)
		return
	}
	if e := s.authorizeParams(p, ar); e != nil {
		s.redirectError(w, r, ar.redirectURI, ar.state, e)
		return
	}
	if s.trySingleSignOn(w, r, ar) {
		return
	}
	if ar.promptNone {
		s.redirectError(w, r, ar.redirectURI, ar.state, oauthError(codeLoginRequired, "the user must sign in"))
		return
	}
	s.startLogin(w, r, ar)
}

// trySingleSignOn answers the request from the browser's session, without the
// form, when the session is live, the client did not ask for prompt=login and
// the sign-in is recent enough for max_age (OIDC Core §3.1.2.1). It reports
// whether it answered.
func (s *Server) trySingleSignOn(w http.ResponseWriter, r *http.Request, ar *authRequest) bool {
	if ar.promptLogin || ar.maxAge == 0 {
		return false
	}
	sess, cookie, ok, err := s.currentSession(r)
	if err != nil {
		s.redirectError(w, r, ar.redirectURI, ar.state, serverError(err))
		return true
	}
	if !ok || (ar.maxAge > 0 && s.now().Sub(sess.AuthTime) > ar.maxAge) {
		return false
	}
	id, err := s.currentIdentity(r.Context(), sess.Subject, sess.Claims)
	switch {
	case errors.Is(err, ErrUnknownUser):
		// The user was removed or disabled since: the session is worthless.
		if err := s.store.EndSession(r.Context(), hashSecret(cookie), true); err != nil {
			s.redirectError(w, r, ar.redirectURI, ar.state, serverError(err))
			return true
		}
		s.clearSessionCookie(w)
		return false
	case err != nil:
		s.redirectError(w, r, ar.redirectURI, ar.state, serverError(err))
		return true
	}
	s.finishAuthorization(w, r, ar.codeGrant(id, sess.AuthTime, sess.IDHash))
	return true
}

// codeGrant is everything an authorization code is bound to: the grant the
// user gave, which /token turns into tokens, and what the redemption must
// match or carry back.
type codeGrant struct {
	grant
	redirectURI, state, challenge string
	sessionHash                   []byte // the browser session the code dies with
}

// codeGrant is what a code issued for this request to id binds: the user
// signed in at authTime, in the browser session sessionHash (nil: none).
func (ar *authRequest) codeGrant(id Identity, authTime time.Time, sessionHash []byte) codeGrant {
	return codeGrant{
		grant: grant{
			client:    ar.client,
			subject:   id.Subject,
			claims:    id.Claims,
			scope:     ar.scope,
			resources: ar.resources,
			authTime:  authTime,
			nonce:     ar.nonce,
		},
		redirectURI: ar.redirectURI,
		state:       ar.state,
		challenge:   ar.challenge,
		sessionHash: sessionHash,
	}
}

// finishAuthorization issues a code for g and sends the browser back to the
// client with code, state and iss (RFC 6749 §4.1.2, RFC 9207).
func (s *Server) finishAuthorization(w http.ResponseWriter, r *http.Request, g codeGrant) {
	code, rec := s.newCode(g)
	if err := s.store.CreateCode(r.Context(), rec); err != nil {
		s.redirectError(w, r, g.redirectURI, g.state, serverError(err))
		return
	}
	s.redirectCode(w, r, g, code)
}

// redirectCode sends the browser back to the client with the stored code.
func (s *Server) redirectCode(w http.ResponseWriter, r *http.Request, g codeGrant, code string) {
	s.log.InfoContext(r.Context(), "authorization granted", "client_id", g.client.ID, "sub", g.subject)
	s.redirectWith(w, r, g.redirectURI, g.state, url.Values{"code": {code}})
}

// newCode returns a new single-use code for g and the record to store for
// it, which holds only its hash. A code whose exchange comes with a refresh
// token names a new refresh-token family, so that a replay of the code can
// revoke every token issued from it; one without names none, so that a
// replay or an ended session has no family to revoke.
func (s *Server) newCode(g codeGrant) (string, store.AuthCode) {
	code := newSecret()
	var family string
	if g.client.getsRefreshTokens(g.scope) {
		family = newSecret()
	}
	return code, store.AuthCode{
		Hash:          hashSecret(code),
		ClientID:      g.client.ID,
		RedirectURI:   g.redirectURI,
		Challenge:     g.challenge,
		Subject:       g.subject,
		Claims:        g.claims,
		Scope:         g.scope,
		Resources:     g.resources,
		Nonce:         g.nonce,
		AuthTime:      g.authTime,
		ExpiresAt:     s.now().Add(s.cfg.CodeTTL),
		FamilyID:      family,
		SessionIDHash: g.sessionHash,
	}
}

// authorizeValues reads the query of a GET or the form body of a POST.
func authorizeValues(r *http.Request) (map[string][]string, error) {
	if r.Method != http.MethodPost {
		// Not r.URL.Query(): it drops pairs it cannot decode, which would hide
		// a second, undecodable copy of a parameter from the duplicate check.
		return url.ParseQuery(r.URL.RawQuery)
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// authorizeClient finds the client and checks the redirect URI. Its error is
// always for an error page: until both are checked, nothing may redirect.
func (s *Server) authorizeClient(p params, repeated []string, perr *oauthErr) (*authRequest, *oauthErr) {
	for _, name := range []string{"client_id", "redirect_uri"} {
		if slices.Contains(repeated, name) {
			return nil, oauthError(codeInvalidRequest, "The sign-in link names its "+name+" more than once, so it cannot be trusted.")
		}
	}
	if perr != nil && p == nil { // too many parameters: nothing can be trusted
		return nil, perr
	}
	id := p["client_id"]
	client, ok := s.client(id)
	if id == "" || !ok {
		return nil, oauthError(codeInvalidRequest, "The application that sent you here is not registered with this sign-in service.").withTitle(titleCannotGoOn)
	}
	if !client.allowsGrant(GrantAuthorizationCode) {
		return nil, oauthError(codeUnauthorizedClient, "This application is not allowed to sign users in.")
	}
	uri := p["redirect_uri"]
	if uri == "" {
		return nil, oauthError(codeInvalidRequest, "The sign-in link does not say where to return to (redirect_uri is required).")
	}
	if !client.matchRedirectURI(uri) {
		return nil, oauthError(codeInvalidRequest, "The sign-in link asks to return to an address that is not registered for this application.").withTitle(titleCannotGoOn)
	}
	ar := &authRequest{client: client, redirectURI: uri}
	// The state is echoed only when it was sent once and is not oversized;
	// authorizeParams reports an oversized one.
	if st := p["state"]; !slices.Contains(repeated, "state") && len(st) <= maxStateLen {
		ar.state = st
	}
	return ar, nil
}

// authorizeParams checks everything else; its errors are redirected.
func (s *Server) authorizeParams(p params, ar *authRequest) *oauthErr {
	if len(p["state"]) > maxStateLen {
		return oauthError(codeInvalidRequest, "state is too long")
	}
	if _, ok := p["request"]; ok {
		return oauthError(codeRequestNotSupported, "request objects are not supported")
	}
	if _, ok := p["request_uri"]; ok {
		return oauthError(codeRequestURINotSupported, "request_uri is not supported")
	}
	switch rt := p["response_type"]; rt {
	case "code":
	case "":
		return oauthError(codeInvalidRequest, "response_type is required")
	default:
		return oauthError(codeUnsupportedResponseType, "only response_type=code is supported")
	}
	if rm, ok := p["response_mode"]; ok && rm != "query" {
		return oauthError(codeInvalidRequest, "only response_mode=query is supported")
	}
	// PKCE is required for every client, and only S256: a missing method is
	// never taken to mean plain (RFC 9700 §2.1.1, RFC 7636 §4.3).
	if p["code_challenge_method"] != "S256" {
		return oauthError(codeInvalidRequest, "PKCE is required: send code_challenge with code_challenge_method=S256")
	}
	if !validChallenge(p["code_challenge"]) {
		return oauthError(codeInvalidRequest, "code_challenge must be 43 base64url characters (S256)")
	}
	ar.challenge = p["code_challenge"]
	scope, e := ar.client.parseScope(p["scope"])
	if e != nil {
		return e
	}
	ar.scope = scope
	if ar.resources, e = s.authorizeResources(ar.client, p); e != nil {
		return e
	}
	if len(p["nonce"]) > maxNonceLen {
		return oauthError(codeInvalidRequest, "nonce is too long")
	}
	ar.nonce = p["nonce"]
	prompts := strings.Fields(p["prompt"])
	ar.promptNone = slices.Contains(prompts, "none")
	ar.promptLogin = slices.Contains(prompts, "login")
	if ar.promptNone && len(prompts) > 1 {
		return oauthError(codeInvalidRequest, "prompt=none cannot be combined with other values")
	}
	ar.maxAge = -1
	if v, ok := p["max_age"]; ok {
		secs, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return oauthError(codeInvalidRequest, "max_age must be a number of seconds")
		}
		ar.maxAge = time.Duration(secs) * time.Second
	}
	return nil
}

// startLogin seals the pending request, bound to this browser and to the
// page, into the login form it shows. Nothing is stored: a flood of
// unfinished sign-ins costs the server no memory and the store no row.
func (s *Server) startLogin(w http.ResponseWriter, r *http.Request, ar *authRequest) {
	if s.signIn != nil {
		s.signInWithoutForm(w, r, ar)
		return
	}
	browser := s.browserID(w, r)
	csrf := newSecret()
	id := make([]byte, 16)
	_, _ = rand.Read(id) // never fails (crypto/rand, Go ≥1.24)
	sealed, err := s.sealPending(pendingLogin{
		ID:          id,
		BrowserHash: hashSecret(browser),
		CSRFHash:    hashSecret(csrf),
		ClientID:    ar.client.ID,
		RedirectURI: ar.redirectURI,
		State:       []byte(ar.state),
		Challenge:   ar.challenge,
		Nonce:       []byte(ar.nonce),
		Scope:       ar.scope,
		Resources:   ar.resources,
		ExpiresAt:   s.now().Add(s.cfg.LoginTTL).UnixMilli(),
	})
	if err != nil {
		s.redirectError(w, r, ar.redirectURI, ar.state, serverError(err))
		return
	}
	s.renderLogin(w, http.StatusOK, loginView{
		ClientName: ar.client.Name,
		RequestID:  sealed,
		CSRFToken:  csrf,
		Scopes:     ar.scope,
		Resources:  ar.resources,
	})
}
