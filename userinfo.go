package keystile

import (
	"errors"
	"mime"
	"net/http"
)

// handleUserInfo serves GET and POST /userinfo (OIDC Core §5.3). The access
// token is a bearer token (RFC 6750) sent in the Authorization header (§2.1)
// or, on a POST, as the access_token form parameter (§2.2) — never in the
// query, which ends up in logs — and by exactly one of the two methods.
//
// The token must verify with the server's own verifier (signature, iss, aud,
// exp, typ at+jwt, and the revocation deny-list, where a store error refuses
// the token), be a user's token (it has auth_time: a client-credentials token
// has no user) and carry the openid scope. The answer is sub and the standard
// claims that the token's scope releases (§5.4), taken from LookupUser when
// it is configured (current values; a user who is gone gets 401) and from the
// custom claims the access token carries otherwise. Errors follow RFC 6750
// §3.1: 401 invalid_token, 403 insufficient_scope, 400 invalid_request.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	token, present, e := userInfoToken(r)
	if e != nil {
		s.logError(r, e)
		writeBearerError(w, http.StatusBadRequest, codeInvalidRequest, e.description, "", "")
		return
	}
	if !present {
		writeBearerChallenge(w, "")
		return
	}
	ctx := r.Context()
	claims, err := s.verifier.Verify(ctx, token)
	if err != nil {
		s.log.DebugContext(ctx, "userinfo refused a token", "error", err)
		writeBearerError(w, http.StatusUnauthorized, codeInvalidToken, "the access token is invalid, expired or revoked", "", "")
		return
	}
	sub := claims.Subject()
	if _, ok := s.client(claims.ClientID()); !ok || sub == "" {
		writeBearerError(w, http.StatusUnauthorized, codeInvalidToken, "the access token is invalid, expired or revoked", "", "")
		return
	}
	if _, user := claims["auth_time"]; !user || !claims.HasScope(ScopeOpenID) {
		writeBearerError(w, http.StatusForbidden, codeInsufficientScope, "the access token was not issued for an OpenID Connect sign-in", ScopeOpenID, "")
		return
	}
	id, err := s.currentIdentity(ctx, sub, claims)
	switch {
	case errors.Is(err, ErrUnknownUser):
		writeBearerError(w, http.StatusUnauthorized, codeInvalidToken, "the user of this access token is no longer known", "", "")
		return
	case err != nil:
		s.writeJSONError(w, r, serverError(err))
		return
	}
	out := standardClaims(claims.Scopes(), id.Claims)
	out["sub"] = sub
	writeJSON(w, http.StatusOK, noStoreJSON, out)
}

// userInfoToken finds the bearer token of a /userinfo request. present is
// false when there is none; an error means the request is malformed: two
// Authorization headers, two access_token parameters, a body that cannot be
// read, or a token sent both ways (RFC 6750 §2: "MUST NOT use more than one
// method").
func userInfoToken(r *http.Request) (token string, present bool, e *oauthErr) {
	values := r.Header.Values("Authorization")
	if len(values) > 1 {
		return "", false, errRepeatedAuthorization
	}
	token, present = bearerToken(values)
	if r.Method != http.MethodPost {
		return token, present, nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return token, present, nil // no form body, so no token in it
	}
	p, _, err := readTokenForm(r)
	if err != nil {
		return "", false, oauthError(codeInvalidRequest, "the request body could not be read")
	}
	bodyToken, inBody := p["access_token"]
	switch {
	case inBody && present:
		return "", false, oauthError(codeInvalidRequest, "send the access token in one place only")
	case inBody:
		return bodyToken, true, nil
	}
	return token, present, nil
}
