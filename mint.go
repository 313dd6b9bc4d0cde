package keystile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keystile/keystile/store"
)

// grant is one authorization, whatever the grant type that proved it: who
// (subject and claims), for which client, with what scope, and what the
// tokens issued from it must carry and remember. The grant functions
// (exchangeCode, refresh, clientCredentials) fill it once the request has
// checked out; mint turns it into tokens. /authorize fills the same value
// before it issues a code (codeGrant).
type grant struct {
	client  *Client
	subject string
	// claims are the custom claims: the user's, or a service client's own.
	// Registered names are dropped from them (docs/security.md §9).
	claims map[string]any
	scope  []string // the scope of the tokens minted now
	// resources are the RFC 8707 resources granted at /authorize (kept
	// with the code and the family); resource is the one the access token
	// minted now is for, "" for the default Audience (resources.go).
	resources []string
	resource  string
	// authTime is when the user typed their password. Zero means no user
	// signed in (client credentials): no auth_time claim and no ID token.
	authTime time.Time
	nonce    string // the /authorize nonce for the ID token; "" leaves it out
	jti      string // the access token's jti; "" for a random one
	// family is the refresh-token family the grant adds a token to; nil
	// issues no refresh token.
	family *family
}

// family is what a refresh token records of its family (RFC 9700 §4.14.2):
// one authorization, whose tokens are rotated on every use and revoked
// together.
type family struct {
	id          string
	sessionHash []byte   // the browser session the family dies with; nil if none
	scope       []string // the scope granted at /authorize: refreshes may narrow it
	resources   []string // the resources granted at /authorize: refreshes pick among them
	nonce       string   // the /authorize nonce, kept with the family
	expiresAt   time.Time
	// rotates is the hash of the refresh token the new one replaces; nil
	// starts the family.
	rotates []byte
	// issued is the family's first token when the store created it already,
	// with the code's redemption (exchangeCode); "" otherwise.
	issued string
}

// tokenResponse is the successful answer of /token (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	alg          string // of the access token, for Config.OnEvent
}

// appendJSON writes r as json.Marshal does (TestTokenResponseJSON holds it
// to that), without reflection: /token answers one on every request. The
// tokens are written as they are: each is a compact JWS (signPayload:
// base64url parts joined by dots) or base64url (newSecret), characters
// json.Marshal writes unchanged (TestMintedTokensNeedNoEscaping), so the
// byte-by-byte check of appendJSONString (~7 instructions a byte, ~2,900 a
// request for the access token alone, callgrind) would find nothing.
func (r *tokenResponse) appendJSON(b []byte) []byte {
	// The names, the punctuation, the number and writeJSON's newline fit
	// in 128 bytes; the strings rarely need escaping.
	b = slices.Grow(b, 128+len(r.AccessToken)+len(r.TokenType)+len(r.RefreshToken)+len(r.Scope)+len(r.IDToken))
	b = append(b, `{"access_token":`...)
	b = appendJSONToken(b, r.AccessToken)
	b = append(b, `,"token_type":`...)
	b = appendJSONString(b, r.TokenType)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, r.ExpiresIn, 10)
	if r.RefreshToken != "" {
		b = append(b, `,"refresh_token":`...)
		b = appendJSONToken(b, r.RefreshToken)
	}
	if r.Scope != "" {
		b = append(b, `,"scope":`...)
		b = appendJSONString(b, r.Scope)
	}
	if r.IDToken != "" {
		b = append(b, `,"id_token":`...)
		b = appendJSONToken(b, r.IDToken)
	}
	return append(b, '}')
}

// appendJSONToken appends tok, a token Keystile made (compact JWS or
// base64url), as a JSON string: quoted, with nothing in it to escape.
func appendJSONToken(b []byte, tok string) []byte {
	b = append(b, '"')
	b = append(b, tok...)
	return append(b, '"')
}

// mint issues every token of g and builds the token response: the access
// token, an ID token when a user signed in and the scope holds openid (OIDC
// Core §3.1.3.3, §12.2), and a refresh token when g names a family. The
// refresh token is stored last, so that a signing failure leaves nothing in
// the store; a code exchange's first one was stored with the code's
// redemption, and a signing failure then leaves it unknown to anyone, as it
// leaves the code burned.
func (s *Server) mint(ctx context.Context, g grant, now time.Time) (*tokenResponse, error) {
	signer := s.signer()
	// The payload is signed and dropped: room for a usual one on the
	// stack, which a larger one grows out of.
	var room [512]byte
	payload, err := s.accessTokenPayload(room[:0], g, now)
	if err != nil {
		return nil, serverError(err)
	}
	at, err := signer.signAccessPayload(payload)
	if err != nil {
		return nil, serverError(err)
	}
	if err := tokenFits("access", at); err != nil {
		return nil, serverError(err)
	}
	resp := &tokenResponse{
		alg:         signer.alg,
		AccessToken: at,
		TokenType:   "Bearer",
		ExpiresIn:   int64(s.cfg.AccessTokenTTL / time.Second),
		Scope:       strings.Join(s.accessScope(g), " "), // the access token's (RFC 6749 §5.1)
	}
	if !g.authTime.IsZero() && slices.Contains(g.scope, ScopeOpenID) {
		key, err := s.idTokenSigner()
		if err != nil {
			return nil, serverError(err)
		}
		claims, err := s.idTokenClaims(g, key.alg, at, now)
		if err != nil {
			return nil, serverError(err)
		}
		if resp.IDToken, err = key.signIDToken(claims); err != nil {
			return nil, serverError(err)
		}
		if err := tokenFits("ID", resp.IDToken); err != nil {
			return nil, serverError(err)
		}
	}
	if g.family != nil {
		if resp.RefreshToken, err = s.storeRefreshToken(ctx, g, now); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// tokenFits refuses to issue a token longer than Keystile takes back: the
// in-process verifier (RequireClaim, /userinfo), /revoke, /introspect and
// /logout's id_token_hint refuse tokens over 8 KiB. Only custom claims can
// make one that long; handing it out would pass the problem to every API
// that later answers 401, so the operator is told here instead.
func tokenFits(kind, tok string) error {
	if len(tok) > maxTokenBytes {
		return fmt.Errorf("the %s token is %d bytes, over the %d bytes Keystile accepts back: its custom claims are too large", kind, len(tok), maxTokenBytes)
	}
	return nil
}

// registeredClaims are never taken from custom claims (docs/security.md §9):
// the JWT registered claims (RFC 7519 §4.1), those RFC 9068 and OIDC give a
// meaning in access or ID tokens, and token-type markers.
var registeredClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	"client_id": true, "scope": true, "scp": true, "auth_time": true, "acr": true, "amr": true,
	"azp": true, "nonce": true, "at_hash": true, "c_hash": true, "sid": true, "cnf": true,
	"act": true, "may_act": true, "typ": true, "token_use": true, "tid": true,
}

// IsRegisteredClaim reports whether name is a claim Keystile sets itself,
// which custom claims can never override. Config loaders use it to refuse
// such a claim up front instead of having it silently dropped.
func IsRegisteredClaim(name string) bool { return registeredClaims[name] }

// idTokenClaims are the claims of g's ID token (OIDC Core §2, §3.1.3.6),
// signed with alg alongside the access token at:
//
//   - iss, sub; aud is the client_id alone, so azp is never needed (§2: azp
//     is for an ID token with an audience other than the client).
//   - exp is iat + AccessTokenTTL. ID tokens live as long as access tokens
//     because a retired signing key stays in the JWKS for exactly that long
//     (plus the leeway): every ID token Keystile signs verifies until it
//     expires, even across a key rotation.
//   - auth_time is when the user typed their password, also after single
//     sign-on and on refresh (§12.2).
//   - nonce is the /authorize value byte for byte, when the grant carries one.
//   - at_hash is the left half of the hash of the access token (§3.1.3.6)
//     with the hash of the signing alg (tokenHash).
//   - the standard claims the scope releases (§5.4) from the user's claims.
func (s *Server) idTokenClaims(g grant, alg, at string, now time.Time) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	for k, v := range standardClaims(g.scope, g.claims) {
		claims[k] = v
	}
	claims["iss"] = s.cfg.Issuer
	claims["sub"] = g.subject
	claims["aud"] = g.client.ID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(s.cfg.AccessTokenTTL).Unix()
	claims["auth_time"] = g.authTime.Unix()
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	h, err := tokenHash(alg, at)
	if err != nil {
		return nil, err
	}
	claims["at_hash"] = h
	return claims, nil
}

// storeRefreshToken adds a new refresh token to g's family and returns it
// (or the one the code's redemption stored already). It either starts the
// family or rotates the token the family's grant
// presented, atomically (the store's compare-and-set): of two concurrent
// uses of one token, one wins and the other revokes the family.
func (s *Server) storeRefreshToken(ctx context.Context, g grant, now time.Time) (string, error) {
	f := g.family
	if f.rotates != nil {
		tok := newSecret()
		err := s.store.RotateRefreshToken(ctx, f.rotates, s.refreshRecord(g, tok, now), now)
		switch {
		case errors.Is(err, store.ErrReused):
			s.log.WarnContext(ctx, "refresh token reused concurrently; its family was revoked", "client_id", g.client.ID, "sub", g.subject)
			s.emit(Event{Kind: EventCredentialReused, GrantType: GrantRefreshToken})
			return "", errBadRefresh
		case errors.Is(err, store.ErrNotFound):
			return "", errBadRefresh
		case err != nil:
			return "", serverError(err)
		}
		return tok, nil
	}
	tok := f.issued
	if tok == "" {
		tok = newSecret()
		if err := s.store.CreateRefreshToken(ctx, s.refreshRecord(g, tok, now)); err != nil {
			return "", serverError(err)
		}
	}
	// A sign-out that landed between the grant's session check and the
	// family's creation found no family to revoke: look again, now that the
	// family exists, and revoke it ourselves if the session is gone.
	if len(f.sessionHash) > 0 {
		if err := s.sessionStillLive(ctx, f.sessionHash, f.id, now); err != nil {
			return "", err
		}
	}
	return tok, nil
}

// refreshRecord is the stored record of tok, a new refresh token in g's
// family: only its hash is kept, and its idle expiry never passes the
// family's.
func (s *Server) refreshRecord(g grant, tok string, now time.Time) store.RefreshToken {
	f := g.family
	return store.RefreshToken{
		Hash:            hashSecret(tok),
		FamilyID:        f.id,
		SessionIDHash:   f.sessionHash,
		ClientID:        g.client.ID,
		Subject:         g.subject,
		Claims:          g.claims,
		Scope:           f.scope,
		Resources:       f.resources,
		Nonce:           f.nonce,
		AuthTime:        g.authTime,
		IssuedAt:        now,
		ExpiresAt:       minTime(now.Add(s.cfg.RefreshTokenIdleTTL), f.expiresAt),
		FamilyExpiresAt: f.expiresAt,
	}
}

// sessionStillLive refuses a grant whose browser session has ended, and
// revokes the family (if the grant names one) in case it was already
// created: tokens issued in a browser session die with it.
func (s *Server) sessionStillLive(ctx context.Context, sessionHash []byte, familyID string, now time.Time) error {
	_, err := s.store.GetSession(ctx, sessionHash, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if familyID != "" {
			if err := s.store.RevokeFamily(ctx, familyID); err != nil {
				return serverError(err)
			}
		}
		return oauthError(codeInvalidGrant, "the session this code was issued in has ended")
	case err != nil:
		return serverError(err)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
