package keystile

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

var errBadRefresh = oauthError(codeInvalidGrant, "the refresh token is invalid, expired, revoked, or was issued to another client")

// refresh serves grant_type=refresh_token (RFC 6749 §6). The token is
// rotated on every use (mint stores its successor in place of it); a token
// presented after it was rotated revokes its whole family (RFC 9700
// §4.14.2), since either the client or an attacker holds a copy. The user is
// checked again, and the scope may only narrow.
func (s *Server) refresh(ctx context.Context, client *Client, p params, now time.Time) (grant, error) {
	presented := p["refresh_token"]
	if presented == "" {
		return grant{}, oauthError(codeInvalidRequest, "refresh_token is required")
	}
	if len(presented) > maxSecretLen {
		return grant{}, errBadRefresh
	}
	old, err := s.store.GetRefreshToken(ctx, hashSecret(presented), now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return grant{}, errBadRefresh
	case err != nil:
		return grant{}, serverError(err)
	}
	if old.ClientID != client.ID {
		return grant{}, errBadRefresh
	}
	if !old.UsedAt.IsZero() {
		if err := s.store.RevokeFamily(ctx, old.FamilyID); err != nil {
			return grant{}, serverError(err)
		}
		s.log.WarnContext(ctx, "refresh token reused; its family was revoked", "client_id", client.ID, "sub", old.Subject)
		s.emit(Event{Kind: EventCredentialReused, GrantType: GrantRefreshToken})
		return grant{}, errBadRefresh
	}
	scope := old.Scope
	if raw, ok := p["scope"]; ok {
		requested, e := client.parseScope(raw)
		if e != nil {
			return grant{}, e
		}
		for _, sc := range requested {
			if !slices.Contains(old.Scope, sc) {
				return grant{}, oauthError(codeInvalidScope, "a refresh may not widen the granted scope")
			}
		}
		scope = requested
	}
	// The resource may narrow to one granted at /authorize, never widen.
	resource, e := s.tokenResource(client, old.Resources, p)
	if e != nil {
		return grant{}, e
	}
	id, err := s.currentIdentity(ctx, old.Subject, old.Claims)
	switch {
	case errors.Is(err, ErrUnknownUser):
		if err := s.store.RevokeFamily(ctx, old.FamilyID); err != nil {
			return grant{}, serverError(err)
		}
		return grant{}, errBadRefresh
	case err != nil:
		return grant{}, serverError(err)
	}
	return grant{
		client:    client,
		subject:   id.Subject,
		claims:    id.Claims,
		scope:     scope,
		resources: old.Resources,
		resource:  resource,
		authTime:  old.AuthTime,
		// The new ID token keeps iss, sub, aud and auth_time of the first
		// one (OIDC Core §12.2) and leaves the nonce out: the errata allow
		// either the original value or none, and clients that check a nonce
		// after a refresh (angular-auth-oidc-client, say) fail on one they
		// did not send. The family keeps it.
		nonce: "",
		family: &family{
			id:          old.FamilyID,
			sessionHash: old.SessionIDHash,
			scope:       old.Scope,
			resources:   old.Resources,
			nonce:       old.Nonce,
			expiresAt:   old.FamilyExpiresAt,
			rotates:     old.Hash,
		},
	}, nil
}
