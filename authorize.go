package keystile

import (
	"net/http"
	"slices"
	"strings"

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
}

// handleAuthorize serves GET and POST /authorize (RFC 6749 §4.1.1; POST
// behaves like GET, OIDC Core §3.1.2.1). A request whose client or redirect
// URI cannot be trusted gets an error page; once both are known good, every
// other error goes back to the client by redirect, with state and iss
// (RFC 9207). A valid request shows the login form.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	values, err := authorizeValues(r)
	if err != nil {
		s.errorPage(w, r, oauthError(ErrCodeInvalidRequest, "The request could not be read."))
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
	s.startLogin(w, r, ar)
}

// authorizeValues reads the query of a GET or the form body of a POST.
func authorizeValues(r *http.Request) (map[string][]string, error) {
	if r.Method != http.MethodPost {
		return r.URL.Query(), nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// authorizeClient finds the client and checks the redirect URI. Its error is
// always for an error page: until both are checked, nothing may redirect.
func (s *Server) authorizeClient(p params, repeated []string, perr *Error) (*authRequest, *Error) {
	for _, name := range []string{"client_id", "redirect_uri"} {
		if slices.Contains(repeated, name) {
			return nil, &Error{Code: ErrCodeInvalidRequest, Description: "The sign-in link names its " + name + " more than once, so it cannot be trusted."}
		}
	}
	if perr != nil && p == nil { // too many parameters: nothing can be trusted
		return nil, perr
	}
	id := p["client_id"]
	client, ok := s.clients[id]
	if id == "" || !ok {
		return nil, &Error{Code: ErrCodeInvalidRequest, Description: "The application that sent you here is not registered with this sign-in service."}
	}
	if !client.allowsGrant(GrantAuthorizationCode) {
		return nil, &Error{Code: ErrCodeUnauthorizedClient, Description: "This application is not allowed to sign users in."}
	}
	uri := p["redirect_uri"]
	if uri == "" {
		return nil, &Error{Code: ErrCodeInvalidRequest, Description: "The sign-in link does not say where to return to (redirect_uri is required)."}
	}
	if !client.matchRedirectURI(uri) {
		return nil, &Error{Code: ErrCodeInvalidRequest, Description: "The sign-in link asks to return to an address that is not registered for this application."}
	}
	ar := &authRequest{client: client, redirectURI: uri}
	if !slices.Contains(repeated, "state") {
		ar.state = p["state"]
	}
	if len(ar.state) > maxStateLen {
		ar.state = ""
		return ar, nil // authorizeParams reports it by redirect
	}
	return ar, nil
}

// authorizeParams checks everything else; its errors are redirected.
func (s *Server) authorizeParams(p params, ar *authRequest) *Error {
	if len(p["state"]) > maxStateLen {
		return oauthError(ErrCodeInvalidRequest, "state is too long")
	}
	if _, ok := p["request"]; ok {
		return oauthError("request_not_supported", "request objects are not supported")
	}
	if _, ok := p["request_uri"]; ok {
		return oauthError("request_uri_not_supported", "request_uri is not supported")
	}
	switch rt := p["response_type"]; rt {
	case "code":
	case "":
		return oauthError(ErrCodeInvalidRequest, "response_type is required")
	default:
		return oauthError(ErrCodeUnsupportedResponseType, "only response_type=code is supported")
	}
	if rm, ok := p["response_mode"]; ok && rm != "query" {
		return oauthError(ErrCodeInvalidRequest, "only response_mode=query is supported")
	}
	// PKCE is required for every client, and only S256: a missing method is
	// never taken to mean plain (RFC 9700 §2.1.1, RFC 7636 §4.3).
	if p["code_challenge_method"] != "S256" {
		return oauthError(ErrCodeInvalidRequest, "PKCE is required: send code_challenge with code_challenge_method=S256")
	}
	if !validChallenge(p["code_challenge"]) {
		return oauthError(ErrCodeInvalidRequest, "code_challenge must be 43 base64url characters (S256)")
	}
	ar.challenge = p["code_challenge"]
	scope, e := ar.client.parseScope(p["scope"])
	if e != nil {
		return e
	}
	ar.scope = scope
	if len(p["nonce"]) > maxNonceLen {
		return oauthError(ErrCodeInvalidRequest, "nonce is too long")
	}
	ar.nonce = p["nonce"]
	for _, v := range strings.Fields(p["prompt"]) {
		if v == "none" {
			// No sign-in session survives between requests yet, so prompt=none
			// can never be satisfied (OIDC Core §3.1.2.6).
			return oauthError("login_required", "the user must sign in")
		}
	}
	return nil
}

// startLogin stores the pending request, bound to this browser, and shows
// the login form.
func (s *Server) startLogin(w http.ResponseWriter, r *http.Request, ar *authRequest) {
	browser := s.browserID(w, r)
	requestID, csrf := newSecret(), newSecret()
	err := s.store.CreateAuthRequest(r.Context(), store.AuthRequest{
		IDHash:      hashSecret(requestID),
		BrowserHash: hashSecret(browser),
		CSRFHash:    hashSecret(csrf),
		ClientID:    ar.client.ID,
		RedirectURI: ar.redirectURI,
		State:       ar.state,
		Challenge:   ar.challenge,
		Nonce:       ar.nonce,
		Scope:       ar.scope,
		ExpiresAt:   s.now().Add(s.cfg.LoginTTL),
	})
	if err != nil {
		s.redirectError(w, r, ar.redirectURI, ar.state, serverError(err))
		return
	}
	s.renderLogin(w, http.StatusOK, loginView{
		ClientName: ar.client.Name,
		RequestID:  requestID,
		CSRFToken:  csrf,
		Scopes:     ar.scope,
	})
}
