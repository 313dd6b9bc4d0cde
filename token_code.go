package keystile

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/keystile/keystile/store"
)

var errBadCode = oauthError(codeInvalidGrant, "the authorization code is invalid, expired, already used, or was issued to another client or redirect URI")

// exchangeCode redeems an authorization code (RFC 6749 §4.1.3, RFC 7636
// §4.5). The code is consumed before anything else is checked, so that a
// failed verifier or a wrong redirect URI burns it: a stolen code cannot be
// tried twice (docs/security.md §3). A code presented again after it was redeemed
// has the store revoke every refresh token issued from it (RFC 6749 §4.1.2).
// The grant is the one the user gave at /authorize, with a new refresh-token
// family when the client gets refresh tokens; the family's first token is
// stored with the code's redemption, one write instead of two (mint hands it
// out).
func (s *Server) exchangeCode(ctx context.Context, client *Client, p params, now time.Time) (grant, error) {
	code := p["code"]
	if code == "" {
		return grant{}, oauthError(codeInvalidRequest, "code is required")
	}
	if len(code) > maxSecretLen {
		return grant{}, errBadCode
	}
	var g grant
	ac, err := s.store.RedeemCode(ctx, hashSecret(code), now, func(ac store.AuthCode) (*store.RefreshToken, error) {
		var e *oauthErr
		if g, e = s.codeGrant(client, code, ac, p, now); e != nil {
			return nil, e
		}
		if g.family == nil {
			return nil, nil
		}
		g.family.issued = newSecret()
		rec := s.refreshRecord(g, g.family.issued, now)
		return &rec, nil
	})
	var refused *oauthErr
	switch {
	case errors.As(err, &refused):
		return grant{}, refused
	case errors.Is(err, store.ErrReused):
		// The store revoked the refresh tokens; the access token issued at
		// the first redemption is deny-listed here (RFC 6749 §4.1.2).
		if err := s.revokeAccessToken(ctx, codeJTI(code), now.Add(s.cfg.AccessTokenTTL)); err != nil {
			return grant{}, serverError(err)
		}
		s.log.WarnContext(ctx, "authorization code replayed; its tokens were revoked", "client_id", client.ID)
		s.emit(Event{Kind: EventCredentialReused, GrantType: GrantAuthorizationCode})
		return grant{}, errBadCode
	case errors.Is(err, store.ErrNotFound):
		return grant{}, errBadCode
	case err != nil:
		return grant{}, serverError(err)
	}
	// A code issued in a browser session dies with it: signing out between
	// the redirect and the redemption must not leave a fresh token family.
	// When the grant starts a family, mint looks once the family exists,
	// which is the look that closes the race; a second one here would cost
	// every sign-in a store read for nothing.
	if len(ac.SessionIDHash) > 0 && g.family == nil {
		if err := s.sessionStillLive(ctx, ac.SessionIDHash, ac.FamilyID, now); err != nil {
			return grant{}, err
		}
	}
	return g, nil
}

// codeGrant checks a consumed code against the request and returns the
// grant it proves. It runs inside the store's redemption (RedeemCode's
// issue), so it only computes.
func (s *Server) codeGrant(client *Client, code string, ac store.AuthCode, p params, now time.Time) (grant, *oauthErr) {
	if ac.ClientID != client.ID || ac.RedirectURI != p["redirect_uri"] {
		return grant{}, errBadCode
	}
	if p["code_verifier"] == "" {
		return grant{}, oauthError(codeInvalidGrant, "code_verifier is required (PKCE)")
	}
	if !verifyS256(p["code_verifier"], ac.Challenge) {
		return grant{}, oauthError(codeInvalidGrant, "code_verifier does not match the code_challenge")
	}
	resource, e := s.tokenResource(client, ac.Resources, p)
	if e != nil {
		return grant{}, e
	}
	g := grant{
		client:    client,
		subject:   ac.Subject,
		claims:    ac.Claims,
		scope:     ac.Scope,
		resources: ac.Resources,
		resource:  resource,
		authTime:  ac.AuthTime,
		nonce:     ac.Nonce,
		jti:       codeJTI(code),
	}
	// A code issued without a family starts none, even if the client's
	// settings changed since (the store refuses a token for it).
	if ac.FamilyID != "" && client.getsRefreshTokens(ac.Scope) {
		g.family = &family{
			id:          ac.FamilyID,
			sessionHash: ac.SessionIDHash,
			scope:       ac.Scope,
			resources:   ac.Resources,
			nonce:       ac.Nonce,
			expiresAt:   now.Add(s.cfg.RefreshTokenMaxTTL),
		}
	}
	return g, nil
}

// codeJTI is the jti of the access token issued for code: derived from the
// code, so that a replay of the code can deny-list that token without the
// store having to remember it. The code is 256 random bits and single use,
// so the jti is unique, and SHA-256 does not give the code away.
func codeJTI(code string) string {
	return base64.RawURLEncoding.EncodeToString(hashSecret("keystile-code-jti:" + code))[:22]
}
