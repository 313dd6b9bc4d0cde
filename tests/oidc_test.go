package tests

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
)

// newOIDCEnv is a server whose spa client may ask for openid, profile and
// email and return to spaSignedOut after logout, and whose alice has
// standard claims next to her custom (and hostile) ones. An HS256 server
// gets an RS256 IDTokenKey, as keystile.New requires.
func newOIDCEnv(t *testing.T, alg string) *env {
	t.Helper()
	users := newTestUsers()
	alice := users["alice"]
	alice.identity.Claims["name"] = "Alice Liddell"
	alice.identity.Claims["email"] = "alice@example.test"
	alice.identity.Claims["email_verified"] = true
	alice.identity.Claims["nonce"] = "planted-by-the-directory"
	return newEnv(t, envOptions{alg: alg, loginUnlimited: true, configure: func(c *keystile.Config) {
		c.ValidateUser = validateUser(users)
		for i := range c.Clients {
			if c.Clients[i].ID == "spa" {
				c.Clients[i].Scopes = []string{oidc.ScopeOpenID, "profile", "email", "api:read"}
				c.Clients[i].PostLogoutRedirectURIs = []string{spaSignedOut}
			}
		}
		if alg == keystile.AlgHS256 {
			rk, err := sharedRSAKey()
			if err != nil {
				t.Fatalf("RSA key: %v", err)
			}
			if c.IDTokenKey, err = keystile.NewSigningKey(rk); err != nil {
				t.Fatalf("ID token key: %v", err)
			}
		}
	}})
}

// TestOpenIDConnect drives Keystile as an ordinary Go relying party does,
// with github.com/coreos/go-oidc/v3 and golang.org/x/oauth2: discovery, the
// code flow with PKCE and a nonce, ID token verification through the JWKS,
// /userinfo, a refresh of an expired access token, and RP-initiated logout.
func TestOpenIDConnect(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{keystile.AlgRS256, keystile.AlgHS256} {
		t.Run(alg+" access tokens", func(t *testing.T) {
			t.Parallel()
			e := newOIDCEnv(t, alg)
			ctx := testContext(t)

			provider, err := oidc.NewProvider(ctx, e.issuer)
			if err != nil {
				t.Fatalf("oidc.NewProvider: %v", err)
			}
			endpoint := provider.Endpoint()
			if endpoint.AuthURL != e.issuer+"/authorize" || endpoint.TokenURL != e.issuer+"/token" || provider.UserInfoEndpoint() != e.issuer+"/userinfo" {
				t.Fatalf("discovered endpoints %+v, userinfo %q", endpoint, provider.UserInfoEndpoint())
			}
			endpoint.AuthStyle = oauth2.AuthStyleInParams
			conf := &oauth2.Config{ClientID: "spa", RedirectURL: spaRedirect, Endpoint: endpoint, Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
			verifier := provider.Verifier(&oidc.Config{ClientID: "spa", Now: e.clock.Now})

			// Sign in with a nonce that needs encoding.
			nonce := "nonce ✓ " + randomToken(t, "")
			pkce := oauth2.GenerateVerifier()
			b := e.newBrowser()
			form := b.authorize(ctx, conf.AuthCodeURL(trickyState, oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce)))
			q := authResponse(t, b.submit(ctx, form, "alice", e.users["alice"].password), spaRedirect)
			if q.Get("state") != trickyState || q.Get("iss") != e.issuer {
				t.Fatalf("authorization response %v", q)
			}
			tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pkce))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}

			// The ID token, verified through the JWKS.
			rawID, _ := tok.Extra("id_token").(string)
			idToken, err := verifier.Verify(ctx, rawID)
			if err != nil {
				t.Fatalf("go-oidc refuses the ID token: %v", err)
			}
			if idToken.Nonce != nonce {
				t.Errorf("nonce %q, want %q: the relying party would refuse the sign-in", idToken.Nonce, nonce)
			}
			if idToken.Subject != "user-alice" || idToken.Issuer != e.issuer || !slices.Equal(idToken.Audience, []string{"spa"}) {
				t.Errorf("sub %q iss %q aud %v", idToken.Subject, idToken.Issuer, idToken.Audience)
			}
			if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash: %v", err)
			}
			var idClaims map[string]any
			if err := idToken.Claims(&idClaims); err != nil {
				t.Fatal(err)
			}
			if idClaims["name"] != "Alice Liddell" || idClaims["email"] != "alice@example.test" || idClaims["email_verified"] != true {
				t.Errorf("ID token claims %v, want name and email (profile and email scopes)", idClaims)
			}
			for _, k := range []string{"role", "groups", "client_id", "scope", "azp"} {
				if v, ok := idClaims[k]; ok {
					t.Errorf("the ID token carries %s = %v", k, v)
				}
			}
			if _, err := provider.Verifier(&oidc.Config{ClientID: "backend", Now: e.clock.Now}).Verify(ctx, rawID); err == nil {
				t.Error("another client's verifier accepts the spa's ID token")
			}
			if _, err := verifier.Verify(ctx, tok.AccessToken); err == nil {
				t.Error("go-oidc accepts the access token as an ID token")
			}

			// /userinfo, through the library.
			info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("provider.UserInfo: %v", err)
			}
			if info.Subject != idToken.Subject || info.Email != "alice@example.test" || !info.EmailVerified {
				t.Errorf("userinfo sub %q email %q verified %t", info.Subject, info.Email, info.EmailVerified)
			}
			var infoClaims map[string]any
			if err := info.Claims(&infoClaims); err != nil {
				t.Fatal(err)
			}
			if infoClaims["name"] != "Alice Liddell" || infoClaims["role"] != nil {
				t.Errorf("userinfo claims %v, want name and no custom claims", infoClaims)
			}

			// The access token expires; the token source refreshes it.
			e.clock.Advance(20 * time.Minute) // past the default 15-minute access token
			if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
				t.Error("userinfo answers an expired access token")
			}
			expired := *tok
			expired.Expiry = time.Now().Add(-time.Minute) // what the client's clock would say by now
			fresh, err := conf.TokenSource(ctx, &expired).Token()
			if err != nil {
				t.Fatalf("refresh through the token source: %v", err)
			}
			if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
				t.Fatal("the token source did not refresh")
			}
			rawFresh, _ := fresh.Extra("id_token").(string)
			freshID, err := verifier.Verify(ctx, rawFresh)
			if err != nil {
				t.Fatalf("go-oidc refuses the refreshed ID token: %v", err)
			}
			var freshClaims map[string]any
			if err := freshID.Claims(&freshClaims); err != nil {
				t.Fatal(err)
			}
			// OIDC Core §12.2: same iss, sub, aud and auth_time; a new iat.
			if freshID.Subject != idToken.Subject || freshClaims["auth_time"] != idClaims["auth_time"] || idClaims["auth_time"] == nil || !freshID.IssuedAt.After(idToken.IssuedAt) {
				t.Errorf("refreshed ID token: sub %q auth_time %v iat %v; first: sub %q auth_time %v iat %v",
					freshID.Subject, freshClaims["auth_time"], freshID.IssuedAt, idToken.Subject, idClaims["auth_time"], idToken.IssuedAt)
			}
			if freshID.Nonce != "" {
				t.Errorf("refreshed ID token nonce %q, want none (keystile leaves it out on refresh)", freshID.Nonce)
			}
			if err := freshID.VerifyAccessToken(fresh.AccessToken); err != nil {
				t.Errorf("at_hash of the refreshed ID token: %v", err)
			}
			if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(fresh)); err != nil {
				t.Errorf("userinfo with the refreshed token: %v", err)
			}

			// RP-initiated logout at the discovered end_session_endpoint.
			var meta struct {
				EndSession string `json:"end_session_endpoint"`
			}
			if err := provider.Claims(&meta); err != nil || meta.EndSession != e.issuer+"/logout" {
				t.Fatalf("end_session_endpoint %q (%v)", meta.EndSession, err)
			}
			tampered := rawFresh[:len(rawFresh)-6] + "AAAAAA"
			bad := b.get(ctx, meta.EndSession+"?"+url.Values{"id_token_hint": {tampered}, "post_logout_redirect_uri": {spaSignedOut}}.Encode())
			if bad.status != http.StatusBadRequest || bad.location() != "" {
				t.Fatalf("logout with a tampered id_token_hint: %s, want an error page", describe(bad))
			}
			logout := logoutForm(ctx, t, e.issuer, b, url.Values{"id_token_hint": {rawFresh}, "post_logout_redirect_uri": {spaSignedOut}, "state": {trickyState}})
			done := b.postForm(ctx, logout.action, logout.fields, nil)
			back := authResponse(t, done, spaSignedOut)
			if back.Get("state") != trickyState {
				t.Errorf("state after logout %q, want %q", back.Get("state"), trickyState)
			}
			if _, err := refreshWith(ctx, conf, fresh.RefreshToken); err == nil {
				t.Error("the refresh token still works after RP-initiated logout")
			} else if code, _ := oauthErrorCode(t, err); code != "invalid_grant" {
				t.Errorf("refresh after logout: %q, want invalid_grant", code)
			}
			if strings.Contains(e.logs.String(), rawFresh) || strings.Contains(e.logs.String(), nonce) {
				t.Error("the server logged an ID token or a nonce")
			}
		})
	}
}

// TestOpenIDConnectWithoutOpenIDScope: a plain OAuth request gets no ID
// token, and its access token gets nothing from /userinfo.
func TestOpenIDConnectWithoutOpenIDScope(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, keystile.AlgRS256)
	ctx := testContext(t)
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	fl := e.signIn(ctx, e.oauthConfig("spa", oauth2.AuthStyleInParams), "alice") // profile api:read
	tok, err := fl.exchange(ctx)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if id := tok.Extra("id_token"); id != nil {
		t.Errorf("id_token %v without the openid scope", id)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("userinfo without openid: %v, want 403", err)
	}
}
