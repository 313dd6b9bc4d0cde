package keystile

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

// grant is what a family of tokens was issued for: one authorization.
type grant struct {
	client      *Client
	familyID    string
	sessionHash []byte
	identity    Identity
	scope       []string // the scope granted; refreshes may narrow it
	nonce       string
	authTime    time.Time
}

var errBadRefresh = oauthError(codeInvalidGrant, "the refresh token is invalid, expired, revoked, or was issued to another client")

// issueRefreshToken creates a new token in g's family and returns it. Only
// its hash is stored. Its idle expiry never passes the family's.
func (s *Server) issueRefreshToken(r *http.Request, g grant, now, familyExpiresAt time.Time) (string, error) {
	tok := newSecret()
	err := s.store.CreateRefreshToken(r.Context(), s.refreshRecord(tok, g, now, familyExpiresAt))
	if err != nil {
		return "", serverError(err)
	}
	return tok, nil
}

func (s *Server) refreshRecord(tok string, g grant, now, familyExpiresAt time.Time) store.RefreshToken {
	return store.RefreshToken{
		Hash:            hashSecret(tok),
		FamilyID:        g.familyID,
		SessionIDHash:   g.sessionHash,
		ClientID:        g.client.ID,
		Subject:         g.identity.Subject,
		Claims:          g.identity.Claims,
		Scope:           g.scope,
		Nonce:           g.nonce,
		AuthTime:        g.authTime,
		IssuedAt:        now,
		ExpiresAt:       minTime(now.Add(s.cfg.RefreshTokenIdleTTL), familyExpiresAt),
		FamilyExpiresAt: familyExpiresAt,
	}
}

// refresh serves grant_type=refresh_token (RFC 6749 §6). The token is
// rotated on every use; a token presented after it was rotated revokes its
// whole family (RFC 9700 §4.14.2), since either the client or an attacker
// holds a copy. The user is checked again, and the scope may only narrow.
func (s *Server) refresh(r *http.Request, client *Client, p params) (*tokenResponse, error) {
	presented := p["refresh_token"]
	if presented == "" {
		return nil, oauthError(codeInvalidRequest, "refresh_token is required")
	}
	if len(presented) > maxSecretLen {
		return nil, errBadRefresh
	}
	ctx := r.Context()
	now := s.now()
	old, err := s.store.GetRefreshToken(ctx, hashSecret(presented), now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errBadRefresh
	case err != nil:
		return nil, serverError(err)
	}
	if old.ClientID != client.ID {
		return nil, errBadRefresh
	}
	if !old.UsedAt.IsZero() {
		if err := s.store.RevokeFamily(ctx, old.FamilyID); err != nil {
			return nil, serverError(err)
		}
		s.log.WarnContext(ctx, "refresh token reused; its family was revoked", "client_id", client.ID, "sub", old.Subject)
		return nil, errBadRefresh
	}
	scope := old.Scope
	if raw, ok := p["scope"]; ok {
		requested, e := client.parseScope(raw)
		if e != nil {
			return nil, e
		}
		for _, sc := range requested {
			if !slices.Contains(old.Scope, sc) {
				return nil, oauthError(codeInvalidScope, "a refresh may not widen the granted scope")
			}
		}
		scope = requested
	}
	id, err := s.currentIdentity(ctx, old.Subject, old.Claims)
	switch {
	case errors.Is(err, ErrUnknownUser):
		if err := s.store.RevokeFamily(ctx, old.FamilyID); err != nil {
			return nil, serverError(err)
		}
		return nil, errBadRefresh
	case err != nil:
		return nil, serverError(err)
	}
	g := grant{client: client, familyID: old.FamilyID, sessionHash: old.SessionIDHash, identity: id, scope: old.Scope, nonce: old.Nonce, authTime: old.AuthTime}
	next := newSecret()
	err = s.store.RotateRefreshToken(ctx, old.Hash, s.refreshRecord(next, g, now, old.FamilyExpiresAt), now)
	switch {
	case errors.Is(err, store.ErrReused):
		s.log.WarnContext(ctx, "refresh token reused concurrently; its family was revoked", "client_id", client.ID, "sub", old.Subject)
		return nil, errBadRefresh
	case errors.Is(err, store.ErrNotFound):
		return nil, errBadRefresh
	case err != nil:
		return nil, serverError(err)
	}
	resp, err := s.issueAccessToken(accessToken{subject: id.Subject, clientID: client.ID, scope: scope, claims: id.Claims, authTime: old.AuthTime}, now)
	if err != nil {
		return nil, err
	}
	// The new ID token keeps iss, sub, aud and auth_time of the first one
	// (OIDC Core §12.2) and leaves the nonce out: the errata allow either
	// the original value or none, and clients that check a nonce after a
	// refresh (angular-auth-oidc-client, say) fail on one they did not send.
	err = s.addIDToken(resp, idTokenGrant{
		clientID:    client.ID,
		identity:    id,
		scope:       scope,
		authTime:    old.AuthTime,
		accessToken: resp.AccessToken,
	}, now)
	if err != nil {
		return nil, err
	}
	resp.RefreshToken = next
	return resp, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
