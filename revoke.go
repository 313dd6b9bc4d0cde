package keystile

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keystile/keystile/store"
)

// handleRevoke serves POST /revoke (RFC 7009). The client authenticates as at
// /token; public clients identify themselves with client_id. A refresh token
// revokes its whole family (§2.1: the grant is revoked); an access token is
// deny-listed by its jti until it expires. Unknown, malformed and expired
// tokens answer 200 as §2.2 requires, so the endpoint tells nothing about
// tokens; but when the store fails, it never answers 200 (SECURITY.md §12).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	client, p, err := s.readClientRequest(r, originBound)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	tok := p["token"]
	if tok == "" {
		s.writeJSONError(w, r, oauthError(codeInvalidRequest, "token is required"))
		return
	}
	if err := s.revoke(r, client, tok); err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

var errStoreUnavailable = oauthError(codeServerError, "the server could not complete the request").withStatus(http.StatusServiceUnavailable)

func (s *Server) revoke(r *http.Request, client *Client, tok string) error {
	ctx := r.Context()
	if len(tok) > maxTokenLen {
		return nil
	}
	if !strings.Contains(tok, ".") { // opaque: a refresh token
		if len(tok) > maxSecretLen {
			return nil
		}
		rt, err := s.store.GetRefreshToken(ctx, hashSecret(tok), s.now())
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return errStoreUnavailable.withCause(err)
		}
		if rt.ClientID != client.ID {
			return oauthError(codeUnauthorizedClient, "the token was not issued to this client")
		}
		if err := s.store.RevokeFamily(ctx, rt.FamilyID); err != nil {
			return errStoreUnavailable.withCause(err)
		}
		return nil
	}
	claims, err := s.verifier.Verify(ctx, tok)
	if errors.Is(err, errRevocationUnavailable) {
		return errStoreUnavailable.withCause(err)
	}
	if err != nil {
		return nil // not one of ours, or expired: nothing to revoke
	}
	if claims.ClientID() != client.ID {
		return oauthError(codeUnauthorizedClient, "the token was not issued to this client")
	}
	jti, _ := claims["jti"].(string)
	exp, err := expiry(claims)
	if jti == "" || err != nil {
		return nil
	}
	if err := s.store.RevokeAccessToken(ctx, jti, exp); err != nil {
		return errStoreUnavailable.withCause(err)
	}
	return nil
}

// maxTokenLen bounds a token presented to /revoke or /introspect.
const maxTokenLen = 8 << 10

// expiry reads the exp claim (RFC 7519 §4.1.4), which the verifier returns
// as a json.Number.
func expiry(c Claims) (time.Time, error) {
	d, err := jwt.MapClaims(c).GetExpirationTime()
	if err != nil || d == nil {
		return time.Time{}, errors.New("missing or malformed exp")
	}
	return d.Time, nil
}
