package keystile

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenResponse is the successful answer of /token (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// handleToken serves POST /token. Every answer is JSON with Cache-Control:
// no-store, errors as RFC 6749 §5.2 describes.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	client, p, err := s.readClientRequest(r)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	var resp *tokenResponse
	grant := p["grant_type"]
	switch {
	case grant == "":
		err = oauthError(codeInvalidRequest, "grant_type is required")
	case grant != GrantAuthorizationCode && grant != GrantRefreshToken && grant != GrantClientCredentials:
		err = oauthError(codeUnsupportedGrantType, "the grant type is not supported")
	case !client.allowsGrant(grant):
		err = oauthError(codeUnauthorizedClient, "the client may not use this grant type")
	case grant == GrantAuthorizationCode:
		resp, err = s.exchangeCode(r, client, p)
	case grant == GrantRefreshToken:
		resp, err = s.refresh(r, client, p)
	case grant == GrantClientCredentials:
		resp, err = s.clientCredentials(client, p)
	}
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// readClientRequest reads the form of /token, /revoke or /introspect and
// authenticates the client that sent it.
func (s *Server) readClientRequest(r *http.Request) (*Client, params, error) {
	p, err := readTokenForm(r)
	if err != nil {
		return nil, nil, err
	}
	client, err := s.authenticateClient(r, p)
	if err != nil {
		return nil, nil, err
	}
	return client, p, nil
}

// readTokenForm parses the body only (never the URL query: SECURITY.md §2)
// as application/x-www-form-urlencoded, and refuses repeated parameters.
func readTokenForm(r *http.Request) (params, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauthError(codeInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, oauthError(codeInvalidRequest, "the request body is too large").withStatus(http.StatusRequestEntityTooLarge)
		}
		return nil, oauthError(codeInvalidRequest, "the request body could not be read")
	}
	return parseTokenForm(string(body))
}

// parseTokenForm is the pure parser behind readTokenForm (fuzzed).
func parseTokenForm(body string) (params, error) {
	if strings.Count(body, "&") >= maxParams {
		return nil, oauthError(codeInvalidRequest, "the request has too many parameters")
	}
	values, err := url.ParseQuery(body)
	if err != nil {
		return nil, oauthError(codeInvalidRequest, "the body is not valid form encoding")
	}
	p, _, perr := singleValues(values)
	if perr != nil {
		return nil, perr
	}
	return p, nil
}

// authenticateClient identifies the client by client_secret_basic,
// client_secret_post or, for public clients, client_id alone (RFC 6749
// §2.3.1). Using two methods at once is an error. Every failure is the same
// invalid_client, so nothing tells which part was wrong.
func (s *Server) authenticateClient(r *http.Request, p params) (*Client, error) {
	id, secret := p["client_id"], p["client_secret"]
	badClient := oauthError(codeInvalidClient, "client authentication failed").withStatus(http.StatusUnauthorized)
	if h := r.Header.Get("Authorization"); h != "" {
		user, pass, ok := r.BasicAuth()
		if !ok {
			return nil, badClient
		}
		// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
		uid, err1 := url.QueryUnescape(user)
		upass, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return nil, badClient
		}
		if secret != "" || (id != "" && id != uid) {
			return nil, oauthError(codeInvalidRequest, "use one client authentication method")
		}
		id, secret = uid, upass
	}
	if id == "" {
		return nil, badClient
	}
	client, ok := s.clients[id]
	if !ok {
		// Spend the same work as a real check, so timing does not reveal
		// which client ids exist.
		checkClientSecret(r.Context(), dummySecretHash, secret)
		return nil, badClient
	}
	if client.Public {
		if secret != "" {
			return nil, badClient
		}
		return client, nil
	}
	if secret == "" || !checkClientSecret(r.Context(), client.SecretHash, secret) {
		return nil, badClient
	}
	return client, nil
}

// dummySecretHash is checked against for unknown client ids.
var dummySecretHash = HashClientSecret("keystile-dummy-secret")

// registeredClaims are never taken from custom claims (SECURITY.md §9):
// the JWT registered claims (RFC 7519 §4.1), those RFC 9068 and OIDC give a
// meaning in access or ID tokens, and token-type markers.
var registeredClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	"client_id": true, "scope": true, "scp": true, "auth_time": true, "acr": true, "amr": true,
	"azp": true, "nonce": true, "at_hash": true, "c_hash": true, "sid": true, "cnf": true,
	"act": true, "may_act": true, "typ": true, "token_use": true, "tid": true,
}

// IsRegisteredClaim reports whether name is a claim Keystile sets itself,
// which custom claims can never override. Config loaders use it to refuse
// such a claim up front instead of having it silently dropped.
func IsRegisteredClaim(name string) bool { return registeredClaims[name] }

// accessToken is what an access token is issued for.
type accessToken struct {
	subject, clientID string
	scope             []string
	claims            map[string]any // custom claims; registered names are dropped
	authTime          time.Time      // zero when no user signed in
	jti               string         // "" for a random one
}

// issueAccessToken signs an RFC 9068 access token.
func (s *Server) issueAccessToken(a accessToken, now time.Time) (*tokenResponse, error) {
	subject, clientID, scope, authTime := a.subject, a.clientID, a.scope, a.authTime
	claims := jwt.MapClaims{}
	for k, v := range a.claims {
		if !registeredClaims[k] {
			claims[k] = v
		}
	}
	exp := now.Add(s.cfg.AccessTokenTTL)
	claims["iss"] = s.cfg.Issuer
	claims["sub"] = subject
	claims["aud"] = s.cfg.Audience
	claims["client_id"] = clientID
	claims["iat"] = now.Unix()
	claims["exp"] = exp.Unix()
	claims["jti"] = a.jti
	if a.jti == "" {
		claims["jti"] = newSecret()[:22] // 132 bits
	}
	if !authTime.IsZero() {
		claims["auth_time"] = authTime.Unix()
	}
	scopeStr := strings.Join(scope, " ")
	if scopeStr != "" {
		claims["scope"] = scopeStr
	}
	tok, err := s.sign(claims)
	if err != nil {
		return nil, serverError(err)
	}
	return &tokenResponse{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   int64(s.cfg.AccessTokenTTL / time.Second),
		Scope:       scopeStr,
	}, nil
}
