package keystile

import (
	"maps"
	"net/http"
	"strings"
)

// handleIntrospect serves POST /introspect (RFC 7662) to authenticated
// confidential clients, typically resource servers; public clients are
// refused (§4: the endpoint must not let anyone probe tokens). An access
// token is active when its signature, issuer, audience and expiry verify and
// it has not been revoked; a refresh token when it is live, unused and was
// issued to the asking client. Anything else is {"active": false}. A store
// failure answers an error, never a stale "active": true (docs/security.md §12).
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
	writeJSON(w, http.StatusOK, noStoreJSON, resp)
}

var inactive = map[string]any{"active": false}

// introspect describes tok to client (RFC 7662 §2.2).
func (s *Server) introspect(r *http.Request, client *Client, tok string) (map[string]any, error) {
	t, err := s.lookupToken(r.Context(), tok)
	switch {
	case err != nil:
		return nil, err
	case t.refresh != nil:
		rt := t.refresh
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
	case t.access != nil:
		out := maps.Clone(map[string]any(t.access))
		out["active"] = true
		out["token_type"] = "Bearer"
		return out, nil
	}
	return inactive, nil
}
