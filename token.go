package keystile

import (
	"net/http"
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
	client, p, err := s.readClientRequest(r, originBound)
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
