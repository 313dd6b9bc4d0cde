package keystile

import (
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// handleRevoke serves POST /revoke (RFC 7009). The client authenticates as at
// /token; public clients identify themselves with client_id. A refresh token
// revokes its whole family (§2.1: the grant is revoked); an access token is
// deny-listed by its jti until it expires. Unknown, malformed and expired
// tokens answer 200 as §2.2 requires, so the endpoint tells nothing about
// tokens; but when the store fails, it never answers 200 (docs/security.md §12).
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

// revoke revokes what tok names, if it is one of client's tokens.
func (s *Server) revoke(r *http.Request, client *Client, tok string) error {
	ctx := r.Context()
	t, err := s.lookupToken(ctx, tok)
	switch {
	case err != nil:
		return err
	case t.refresh != nil:
		if t.refresh.ClientID != client.ID {
			return errNotYourToken
		}
		if err := s.store.RevokeFamily(ctx, t.refresh.FamilyID); err != nil {
			return errStoreUnavailable.withCause(err)
		}
	case t.access != nil:
		if t.access.ClientID() != client.ID {
			return errNotYourToken
		}
		jti, _ := t.access["jti"].(string)
		exp, err := expiry(t.access)
		if jti == "" || err != nil {
			return nil
		}
		if err := s.revokeAccessToken(ctx, jti, exp); err != nil {
			return errStoreUnavailable.withCause(err)
		}
	}
	return nil
}

var errNotYourToken = oauthError(codeUnauthorizedClient, "the token was not issued to this client")

// expiry reads the exp claim (RFC 7519 §4.1.4), which the verifier returns
// as a json.Number.
func expiry(c Claims) (time.Time, error) {
	d, err := jwt.MapClaims(c).GetExpirationTime()
	if err != nil || d == nil {
		return time.Time{}, errors.New("missing or malformed exp")
	}
	return d.Time, nil
}
