package keystile

import (
	"context"
	"errors"
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

// introspect describes tok to client (RFC 7662 §2.2). The user of a token
// is checked again through LookupUser, as a refresh, single sign-on and
// /userinfo check it: a user who is gone or disabled has no active tokens.
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
		if ok, err := s.userStillActive(r.Context(), rt.Subject); !ok {
			return inactive, err
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
		// Only a user's token has auth_time; a client-credentials token's
		// subject is the client.
		if _, user := t.access["auth_time"]; user {
			if ok, err := s.userStillActive(r.Context(), t.access.Subject()); !ok {
				return inactive, err
			}
		}
		out := maps.Clone(map[string]any(t.access))
		out["active"] = true
		out["token_type"] = "Bearer"
		return out, nil
	}
	return inactive, nil
}

// userStillActive asks LookupUser, when it is set, whether subject is still
// a user. A failure of the lookup is an error (503): never a stale answer
// either way (docs/security.md §12).
func (s *Server) userStillActive(ctx context.Context, subject string) (bool, error) {
	_, err := s.currentIdentity(ctx, subject, nil)
	switch {
	case errors.Is(err, ErrUnknownUser):
		return false, nil
	case err != nil:
		return false, errStoreUnavailable.withCause(err)
	}
	return true, nil
}
