package keystile

import (
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/keystile/keystile/store"
)

var errBadCode = oauthError(codeInvalidGrant, "the authorization code is invalid, expired, already used, or was issued to another client or redirect URI")

// exchangeCode redeems an authorization code (RFC 6749 §4.1.3, RFC 7636
// §4.5). The code is consumed before anything else is checked, so that a
// failed verifier or a wrong redirect URI burns it: a stolen code cannot be
// tried twice (SECURITY.md §3). A code presented again after it was redeemed
// has the store revoke every refresh token issued from it (RFC 6749 §4.1.2).
func (s *Server) exchangeCode(r *http.Request, client *Client, p params) (*tokenResponse, error) {
	code := p["code"]
	if code == "" {
		return nil, oauthError(codeInvalidRequest, "code is required")
	}
	if len(code) > maxSecretLen {
		return nil, errBadCode
	}
	now := s.now()
	ac, err := s.store.ConsumeCode(r.Context(), hashSecret(code), now)
	switch {
	case errors.Is(err, store.ErrReused):
		// The store revoked the refresh tokens; the access token issued at
		// the first redemption is deny-listed here (RFC 6749 §4.1.2).
		if err := s.store.RevokeAccessToken(r.Context(), codeJTI(code), now.Add(s.cfg.AccessTokenTTL+DefaultLeeway)); err != nil {
			return nil, serverError(err)
		}
		s.log.WarnContext(r.Context(), "authorization code replayed; its tokens were revoked", "client_id", client.ID)
		return nil, errBadCode
	case errors.Is(err, store.ErrNotFound):
		return nil, errBadCode
	case err != nil:
		return nil, serverError(err)
	}
	if ac.ClientID != client.ID || ac.RedirectURI != p["redirect_uri"] {
		return nil, errBadCode
	}
	if p["code_verifier"] == "" {
		return nil, oauthError(codeInvalidGrant, "code_verifier is required (PKCE)")
	}
	if !verifyS256(p["code_verifier"], ac.Challenge) {
		return nil, oauthError(codeInvalidGrant, "code_verifier does not match the code_challenge")
	}
	// A code issued in a browser session dies with it: signing out between
	// the redirect and the redemption must not leave a fresh token family.
	if len(ac.SessionIDHash) > 0 {
		if err := s.sessionStillLive(r, ac.SessionIDHash, ac.FamilyID, now); err != nil {
			return nil, err
		}
	}
	g := grant{
		client:      client,
		familyID:    ac.FamilyID,
		sessionHash: ac.SessionIDHash,
		identity:    Identity{Subject: ac.Subject, Claims: ac.Claims},
		scope:       ac.Scope,
		nonce:       ac.Nonce,
		authTime:    ac.AuthTime,
	}
	resp, err := s.issueAccessToken(accessToken{subject: g.identity.Subject, clientID: client.ID, scope: g.scope, claims: g.identity.Claims, authTime: g.authTime, jti: codeJTI(code)}, now)
	if err != nil {
		return nil, err
	}
	err = s.addIDToken(resp, idTokenGrant{
		clientID:    client.ID,
		identity:    g.identity,
		scope:       g.scope,
		nonce:       g.nonce,
		authTime:    g.authTime,
		accessToken: resp.AccessToken,
	}, now)
	if err != nil {
		return nil, err
	}
	if client.getsRefreshTokens(g.scope) {
		rt, err := s.issueRefreshToken(r, g, now, now.Add(s.cfg.RefreshTokenMaxTTL))
		if err != nil {
			return nil, err
		}
		// A sign-out that landed between the session check above and the
		// family's creation found no family to revoke: look again, now that
		// the family exists, and revoke it ourselves if the session is gone.
		if len(ac.SessionIDHash) > 0 {
			if err := s.sessionStillLive(r, ac.SessionIDHash, g.familyID, now); err != nil {
				return nil, err
			}
		}
		resp.RefreshToken = rt
	}
	return resp, nil
}

// sessionStillLive refuses a grant whose browser session has ended, and
// revokes the family in case it was already created.
func (s *Server) sessionStillLive(r *http.Request, sessionHash []byte, familyID string, now time.Time) error {
	_, err := s.store.GetSession(r.Context(), sessionHash, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := s.store.RevokeFamily(r.Context(), familyID); err != nil {
			return serverError(err)
		}
		return oauthError(codeInvalidGrant, "the session this code was issued in has ended")
	case err != nil:
		return serverError(err)
	}
	return nil
}

// codeJTI is the jti of the access token issued for code: derived from the
// code, so that a replay of the code can deny-list that token without the
// store having to remember it. The code is 256 random bits and single use,
// so the jti is unique, and SHA-256 does not give the code away.
func codeJTI(code string) string {
	return base64.RawURLEncoding.EncodeToString(hashSecret("keystile-code-jti:" + code))[:22]
}
