package keystile

import (
	"errors"
	"maps"
	"net/http"
	"strings"

	"github.com/keystile/keystile/store"
)

// handleIntrospect serves POST /introspect (RFC 7662) to authenticated
// confidential clients, typically resource servers; public clients are
// refused (§4: the endpoint must not let anyone probe tokens). An access
// token is active when its signature, issuer, audience and expiry verify and
// it has not been revoked; a refresh token when it is live, unused and was
// issued to the asking client. Anything else is {"active": false}. A store
// failure answers an error, never a stale "active": true (SECURITY.md §12).
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	client, p, err := s.readClientRequest(r, anyOrigin)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	if client.Public {
		s.writeJSONError(w, r, oauthError(codeInvalidClient, "introspection needs a confidential client").withStatus(http.StatusUnauthorized))
		return
	}
	tok := p["token"]
	if tok == "" {
		s.writeJSONError(w, r, oauthError(codeInvalidRequest, "token is required"))
		return
	}
	resp, err := s.introspect(r, client, tok)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

var inactive = map[string]any{"active": false}

func (s *Server) introspect(r *http.Request, client *Client, tok string) (map[string]any, error) {
	ctx := r.Context()
	if len(tok) > maxTokenLen {
		return inactive, nil
	}
	if !strings.Contains(tok, ".") {
		if len(tok) > maxSecretLen {
			return inactive, nil
		}
		rt, err := s.store.GetRefreshToken(ctx, hashSecret(tok), s.now())
		switch {
		case errors.Is(err, store.ErrNotFound):
			return inactive, nil
		case err != nil:
			return nil, errStoreUnavailable.withCause(err)
		}
		if !rt.UsedAt.IsZero() || rt.ClientID != client.ID {
			return inactive, nil
		}
		return map[string]any{
			"active":     true,
			"token_type": "refresh_token",
			"client_id":  rt.ClientID,
			"sub":        rt.Subject,
			"scope":      strings.Join(rt.Scope, " "),
			"iat":        rt.IssuedAt.Unix(),
			"exp":        rt.ExpiresAt.Unix(),
			"iss":        s.cfg.Issuer,
		}, nil
	}
	// The server's verifier also consults the revocation deny-list, and
	// refuses the token when it cannot.
	claims, err := s.verifier.Verify(ctx, tok)
	if errors.Is(err, errRevocationUnavailable) {
		return nil, errStoreUnavailable.withCause(err)
	}
	if err != nil {
		return inactive, nil
	}
	out := maps.Clone(map[string]any(claims))
	out["active"] = true
	out["token_type"] = "Bearer"
	return out, nil
}
