package tests

// The token lifecycle end to end: single sign-on, refresh rotation with reuse
// detection, revocation (RFC 7009), introspection (RFC 7662), client
// credentials (RFC 6749 §4.4), logout and signing-key rotation, each driven
// through real HTTP by x/oauth2 (and its clientcredentials package) or by a
// cookie-keeping browser, and judged by what an application, a resource
// server or a user would see.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/password"
)

// Lifecycle additions to the standard test server (see newLifecycleEnv).
const (
	spaSignedOut     = "https://spa.example.test/signed-out"
	backendSignedOut = "https://backend.example.test/bye"
	serviceAccount   = "reports-bot"
)

// serviceAccountClaims are the claims configured for the service account,
// including two that try to overwrite registered claims and must not.
var serviceAccountClaims = map[string]any{
	"role":  "reporter",
	"team":  "finance",
	"sub":   "attacker",
	"iss":   "https://evil.example",
	"scope": "admin:everything",
}

// newLifecycleEnv is newEnv with post-logout redirect URIs registered for
// spa and backend, and a service account allowed client credentials only.
func newLifecycleEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	secret := randomToken(t, "reports-secret-")
	outer := o.configure
	o.configure = func(cfg *keystile.Config) {
		for i := range cfg.Clients {
			switch cfg.Clients[i].ID {
			case "spa":
				cfg.Clients[i].PostLogoutRedirectURIs = []string{spaSignedOut}
			case "backend":
				cfg.Clients[i].PostLogoutRedirectURIs = []string{backendSignedOut}
			}
		}
		cfg.Clients = append(cfg.Clients, keystile.Client{
			ID:         serviceAccount,
			SecretHash: password.HashClientSecret(secret),
			GrantTypes: []string{keystile.GrantClientCredentials},
			Scopes:     []string{"reports:read", "reports:write"},
			Claims:     serviceAccountClaims,
		})
		// An HS256 access-token key cannot sign ID tokens that relying
		// parties verify: if a client may ask for openid, give them a key.
		mayAskOpenID := slices.ContainsFunc(cfg.Clients, func(c keystile.Client) bool { return slices.Contains(c.Scopes, "openid") })
		if mayAskOpenID && cfg.IDTokenKey.Algorithm() == "" && len(cfg.Keys) > 0 && cfg.Keys[0].Algorithm() == keystile.AlgHS256 {
			k, err := keystile.NewSigningKey(newP256Key())
			if err != nil {
				t.Fatalf("ID token key: %v", err)
			}
			cfg.IDTokenKey = k
		}
		if outer != nil {
			outer(cfg)
		}
	}
	e := newEnv(t, o)
	e.secrets[serviceAccount] = secret
	return e
}

// formRequest posts form to one of the issuer's endpoints the way a client
// without a library would, with client_secret_basic when user is set, and
// does not follow redirects.
func (e *env) formRequest(ctx context.Context, t testing.TB, path, body string, user, pass string) page {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.issuer+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return (&browser{t: t, client: noRedirectClient()}).do(req)
}

func noRedirectClient() *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// introspect asks /introspect about tok as the confidential client "backend"
// (a resource server) and returns the decoded answer.
func (e *env) introspect(ctx context.Context, t testing.TB, tok string) map[string]any {
	t.Helper()
	p := e.formRequest(ctx, t, "/introspect", url.Values{"token": {tok}}.Encode(), "backend", e.secrets["backend"])
	if p.status != http.StatusOK {
		t.Fatalf("POST /introspect: %s", describe(p))
	}
	if cc := p.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("POST /introspect: Cache-Control %q, want no-store", cc)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(p.body), &out); err != nil {
		t.Fatalf("POST /introspect: the body is not JSON: %v\n%s", err, p.body)
	}
	if _, ok := out["active"].(bool); !ok {
		t.Fatalf("POST /introspect: no boolean active member (RFC 7662 §2.2): %s", p.body)
	}
	return out
}

// revoke posts tok to /revoke as clientID (client_secret_basic for a
// confidential client, client_id in the body for a public one), with
// token_type_hint when hint is set.
func (e *env) revoke(ctx context.Context, t testing.TB, clientID, tok, hint string) page {
	t.Helper()
	form := url.Values{"token": {tok}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	if e.secrets[clientID] == "" {
		form.Set("client_id", clientID)
		return e.formRequest(ctx, t, "/revoke", form.Encode(), "", "")
	}
	return e.formRequest(ctx, t, "/revoke", form.Encode(), clientID, e.secrets[clientID])
}

// refreshWith runs one refresh through x/oauth2, as an application's
// TokenSource does once its access token has expired.
func refreshWith(ctx context.Context, conf *oauth2.Config, refreshToken string) (*oauth2.Token, error) {
	return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// login runs the whole flow for clientID and returns the token response.
func (e *env) login(ctx context.Context, t testing.TB, clientID, user string) (*oauth2.Token, flow) {
	t.Helper()
	style := oauth2.AuthStyleInHeader
	if clientID == "spa" {
		style = oauth2.AuthStyleInParams
	}
	fl := signInAt(ctx, t, newBrowserFor(t, e.issuer, nil), e.issuer, e.oauthConfig(clientID, style), user, e.users[user].password)
	tok, err := fl.exchange(ctx)
	if err != nil {
		t.Fatalf("exchange for %s: %v", clientID, err)
	}
	if tok.RefreshToken == "" {
		t.Fatalf("exchange for %s: no refresh token", clientID)
	}
	return tok, fl
}

// jwksVerifier is a resource server in another process: it knows only the
// issuer's JWKS URL, and shares the test clock so that expiry agrees.
func (e *env) jwksVerifier(t testing.TB) *keystile.Verifier {
	t.Helper()
	v, err := keystile.NewVerifier(keystile.VerifierConfig{
		Issuer:  e.issuer,
		JWKSURL: e.issuer + "/.well-known/jwks.json",
		Now:     e.clock.Now,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// ssoAttempt opens /authorize for conf in b with extra parameters and says
// what the browser got: "code" (single sign-on answered at once), "form"
// (the login form) or the error the client was sent.
func ssoAttempt(ctx context.Context, t testing.TB, b *browser, conf *oauth2.Config, extra ...oauth2.AuthCodeOption) (string, url.Values) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("sso-state", append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, extra...)...)
	p := b.get(ctx, authURL)
	if p.status == http.StatusOK {
		if _, ok := parseLoginForm(authURL, p); ok {
			return "form", nil
		}
		t.Fatalf("GET /authorize: a 200 page that is not the login form:\n%.400s", p.body)
	}
	if p.status != http.StatusSeeOther {
		t.Fatalf("GET /authorize: %s, want the login form or a 303 back to the client", describe(p))
	}
	q := authResponse(t, p, conf.RedirectURL)
	if q.Get("state") != "sso-state" {
		t.Fatalf("state came back as %q", q.Get("state"))
	}
	if e := q.Get("error"); e != "" {
		return e, q
	}
	if q.Get("code") == "" {
		t.Fatalf("authorization response without code or error: %v", q)
	}
	q.Set("verifier", verifier)
	return "code", q
}

// TestRefreshAcrossExpiry: an application holding x/oauth2's TokenSource
// keeps calling its API after the access token expires, because the source
// refreshes; the refresh rotates the refresh token; the rotated one, shown
// again, is refused and takes the whole family with it (RFC 9700 §4.14.2).
func TestRefreshAcrossExpiry(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t, envOptions{alg: "RS256"})
	ctx := testContext(t)
	conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
	tok, _ := e.login(ctx, t, "spa", "alice")
	remote := e.jwksVerifier(t)
	api := newResourceAPI(t, remote)
	if p := callAPI(t, api, "Bearer "+tok.AccessToken); p.status != http.StatusOK {
		t.Fatalf("the fresh access token is refused by the API: %s", describe(p))
	}

	// Fifteen minutes (the default AccessTokenTTL) and then some pass, on
	// the server and on the application's side alike.
	const elapsed = 16 * time.Minute
	e.clock.Advance(elapsed)
	if p := callAPI(t, api, "Bearer "+tok.AccessToken); p.status != http.StatusUnauthorized {
		t.Fatalf("the expired access token: %s, want 401", describe(p))
	}
	held := *tok
	held.Expiry = tok.Expiry.Add(-elapsed)
	ts := conf.TokenSource(ctx, &held)

	// The application just calls its API; the source refreshes underneath.
	client := oauth2.NewClient(ctx, ts)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/admin", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("calling the API through the TokenSource's client: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the API answered %d after the TokenSource refreshed, want 200", resp.StatusCode)
	}
	fresh, err := ts.Token()
	if err != nil {
		t.Fatalf("TokenSource.Token: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken {
		t.Fatalf("the TokenSource kept the expired access token")
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatalf("the refresh did not rotate the refresh token")
	}
	claims, err := remote.Verify(ctx, fresh.AccessToken)
	if err != nil {
		t.Fatalf("the refreshed access token does not verify through the JWKS: %v", err)
	}
	if claims.Subject() != "user-alice" || claims.ClientID() != "spa" || claims["role"] != "admin" {
		t.Errorf("refreshed token claims sub=%q client_id=%q role=%v, want user-alice, spa, admin", claims.Subject(), claims.ClientID(), claims["role"])
	}
	if got := claims["scope"]; got != "profile api:read" {
		t.Errorf("refreshed token scope %v, want the granted scope %q", got, "profile api:read")
	}
	if got := fresh.Extra("scope"); got != "profile api:read" {
		t.Errorf("the refresh response's scope is %v, want the granted scope %q", got, "profile api:read")
	}

	// The refresh token the application no longer holds is shown again: a
	// stolen copy. It is refused, and so is the family's newest token.
	stale, err := refreshWith(ctx, conf, tok.RefreshToken)
	wantOAuthError(t, stale, err, "invalid_grant")
	newest, err := refreshWith(ctx, conf, fresh.RefreshToken)
	wantOAuthError(t, newest, err, "invalid_grant")
	e.assertNoPanic()
}

// TestRefreshLifetimes: a refresh token dies when unused for the idle
// lifetime (default 7 days), and its family dies at the absolute lifetime
// (default 30 days) however often it is used; a refresh may narrow the
// scope of the access token it returns, never widen it.
func TestRefreshLifetimes(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t, envOptions{loginUnlimited: true})
	ctx := testContext(t)
	conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)

	t.Run("narrower scope", func(t *testing.T) {
		tok, _ := e.login(ctx, t, "spa", "alice")
		body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"spa"}, "scope": {"api:read"}}
		p := e.formRequest(ctx, t, "/token", body.Encode(), "", "")
		if p.status != http.StatusOK {
			t.Fatalf("refresh with a narrower scope: %s", describe(p))
		}
		var resp struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			Scope        string `json:"scope"`
		}
		if err := json.Unmarshal([]byte(p.body), &resp); err != nil {
			t.Fatalf("token response: %v", err)
		}
		if got := decodeJWT(t, resp.AccessToken).claims["scope"]; got != "api:read" || resp.Scope != "api:read" {
			t.Errorf("scope claim %v and scope %q, want the narrowed api:read", got, resp.Scope)
		}
	})

	// Both clocks (server and application) move together from here on.
	idle, _ := e.login(ctx, t, "spa", "alice")
	active, _ := e.login(ctx, t, "spa", "bob")
	rt := active.RefreshToken
	for day := 6; day <= 24; day += 6 {
		e.clock.Advance(6 * 24 * time.Hour)
		next, err := refreshWith(ctx, conf, rt)
		if err != nil {
			t.Fatalf("refresh on day %d, used every 6 days: %v", day, err)
		}
		rt = next.RefreshToken
		if day == 12 {
			stale, err := refreshWith(ctx, conf, idle.RefreshToken)
			wantOAuthError(t, stale, err, "invalid_grant") // unused for 12 days
		}
	}
	e.clock.Advance(6*24*time.Hour + time.Hour) // day 30 and an hour: the family's end
	late, err := refreshWith(ctx, conf, rt)
	wantOAuthError(t, late, err, "invalid_grant")
	e.assertNoPanic()
}

// TestRefreshForDisabledUser: once the user directory no longer knows a
// user (Config.LookupUser), their refresh token is refused; another user's
// still refreshes.
func TestRefreshForDisabledUser(t *testing.T) {
	t.Parallel()
	var aliceGone atomic.Bool
	e := newLifecycleEnv(t, envOptions{configure: func(cfg *keystile.Config) {
		cfg.LookupUser = func(_ context.Context, subject string) (keystile.Identity, error) {
			for _, u := range newTestUsers() {
				if u.identity.Subject == subject && !(subject == "user-alice" && aliceGone.Load()) {
					return u.identity, nil
				}
			}
			return keystile.Identity{}, keystile.ErrUnknownUser
		}
	}})
	ctx := testContext(t)
	conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
	alice, _ := e.login(ctx, t, "spa", "alice")
	bob, _ := e.login(ctx, t, "spa", "bob")
	aliceGone.Store(true)
	gone, err := refreshWith(ctx, conf, alice.RefreshToken)
	wantOAuthError(t, gone, err, "invalid_grant")
	if _, err := refreshWith(ctx, conf, bob.RefreshToken); err != nil {
		t.Errorf("bob's refresh token stopped working when alice was disabled: %v", err)
	}
	e.assertNoPanic()
}

// TestReplayedCodeRevokesTokens: an authorization code redeemed a second
// time is refused, and the refresh token issued from it stops working
// (RFC 6749 §4.1.2: the code was stolen, or the client is confused). A code
// exchanged without a refresh token names no family; its replay still
// revokes the access token issued from it.
func TestReplayedCodeRevokesTokens(t *testing.T) {
	t.Parallel()
	for name, st := range testStores() {
		for _, refresh := range []bool{true, false} {
			t.Run(name+map[bool]string{true: "", false: "/without refresh tokens"}[refresh], func(t *testing.T) {
				t.Parallel()
				e := newLifecycleEnv(t, envOptions{store: st, configure: func(cfg *keystile.Config) {
					for i, c := range cfg.Clients {
						if c.ID == "backend" && !refresh {
							cfg.Clients[i].GrantTypes = []string{keystile.GrantAuthorizationCode}
						}
					}
				}})
				ctx := testContext(t)
				fl := e.signIn(ctx, e.oauthConfig("backend", oauth2.AuthStyleInHeader), "alice")
				tok, err := fl.exchange(ctx)
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				if got := tok.RefreshToken != ""; got != refresh {
					t.Fatalf("a refresh token issued: %v, want %v", got, refresh)
				}
				again, err := fl.exchange(ctx)
				wantOAuthError(t, again, err, "invalid_grant")
				if refresh {
					dead, err := refreshWith(ctx, fl.conf, tok.RefreshToken)
					wantOAuthError(t, dead, err, "invalid_grant")
				}
				// So does the access token of the first redemption.
				if _, err := e.server.Verifier().Verify(ctx, tok.AccessToken); err == nil {
					t.Error("the access token issued from a replayed code still verifies in process")
				}
				if got := e.introspect(ctx, t, tok.AccessToken); got["active"] != false {
					t.Errorf("the access token issued from a replayed code introspects as %v, want active false", got)
				}
				e.assertNoPanic()
			})
		}
	}
}

// TestConcurrentRefresh: ten refreshes of one refresh token at the same
// instant. The store's rotation is atomic, so exactly one wins; the others
// are reuses and revoke the family, so the winner's new refresh token dies
// too (RFC 9700 §4.14.2: the server cannot tell which party is honest).
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	for name, st := range testStores() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newLifecycleEnv(t, envOptions{store: st})
			ctx := testContext(t)
			conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
			tok, _ := e.login(ctx, t, "spa", "alice")

			const n = 10
			var (
				start    = make(chan struct{})
				wg       sync.WaitGroup
				mu       sync.Mutex
				winners  []*oauth2.Token
				failures = map[string]int{}
			)
			for range n {
				wg.Go(func() {
					<-start
					got, err := refreshWith(ctx, conf, tok.RefreshToken)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						winners = append(winners, got)
						return
					}
					failures[errorCode(err)]++
				})
			}
			close(start)
			wg.Wait()
			if len(winners) != 1 || failures["invalid_grant"] != n-1 {
				t.Fatalf("%d refreshes won and the others failed with %v; want exactly 1 win and %d invalid_grant", len(winners), failures, n-1)
			}
			again, err := refreshWith(ctx, conf, winners[0].RefreshToken)
			wantOAuthError(t, again, err, "invalid_grant")
			e.assertNoPanic()
		})
	}
}

// TestSingleSignOn: a browser that signed in once is not asked again, for
// any client, until the client insists (prompt=login, max_age) or the
// session ends; a code issued by single sign-on redeems like any other.
func TestSingleSignOn(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t, envOptions{})
	ctx := testContext(t)
	spa := e.oauthConfig("spa", oauth2.AuthStyleInParams)
	backend := e.oauthConfig("backend", oauth2.AuthStyleInHeader)
	fl := e.signIn(ctx, spa, "alice")
	if _, err := fl.exchange(ctx); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	signedIn := fl.browser

	cases := []struct {
		name    string
		browser *browser
		conf    *oauth2.Config
		extra   []oauth2.AuthCodeOption
		want    string // "code", "form" or an error code
	}{
		{"same client again", signedIn, spa, nil, "code"},
		{"another client", signedIn, backend, nil, "code"},
		{"prompt=none with a session", signedIn, spa, []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "none")}, "code"},
		{"prompt=login", signedIn, spa, []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login")}, "form"},
		{"max_age=0", signedIn, spa, []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "0")}, "form"},
		{"max_age longer than the session's age", signedIn, backend, []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "3600")}, "code"},
		{"another browser", e.newBrowser(), spa, nil, "form"},
		{"prompt=none in another browser", e.newBrowser(), spa, []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "none")}, "login_required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, q := ssoAttempt(ctx, t, tc.browser, tc.conf, tc.extra...)
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if got != "code" {
				return
			}
			if q.Get("iss") != e.issuer {
				t.Errorf("iss %q, want %q (RFC 9207)", q.Get("iss"), e.issuer)
			}
			tok, err := tc.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(q.Get("verifier")))
			if err != nil {
				t.Fatalf("redeeming the single sign-on code: %v", err)
			}
			if sub := decodeJWT(t, tok.AccessToken).claims["sub"]; sub != "user-alice" {
				t.Errorf("sub %v, want the signed-in user-alice", sub)
			}
		})
	}

	// An old sign-in no longer satisfies a short max_age.
	e.clock.Advance(2 * time.Minute)
	if got, _ := ssoAttempt(ctx, t, signedIn, spa, oauth2.SetAuthURLParam("max_age", "60")); got != "form" {
		t.Errorf("max_age=60 two minutes after signing in: got %q, want the form", got)
	}
	// An expired session is never honoured (SessionTTL defaults to 12 h).
	e.clock.Advance(13 * time.Hour)
	if got, _ := ssoAttempt(ctx, t, signedIn, spa); got != "form" {
		t.Errorf("after the session expired: got %q, want the form", got)
	}
	e.assertNoPanic()
}

// logoutForm opens GET /logout in b and returns the confirmation form.
func logoutForm(ctx context.Context, t testing.TB, issuer string, b *browser, q url.Values) loginForm {
	t.Helper()
	u := issuer + "/logout"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	p := b.get(ctx, u)
	if p.status != http.StatusOK || p.location() != "" {
		t.Fatalf("GET /logout: %s, want the confirmation page", describe(p))
	}
	f, _ := parseLoginForm(u, p)
	if f.fields.Get("csrf_token") == "" {
		t.Fatalf("GET /logout: no confirmation form with a csrf_token:\n%.600s", p.body)
	}
	if !strings.HasPrefix(f.action, issuer+"/") {
		t.Fatalf("the sign-out form posts to %q, off the issuer", f.action)
	}
	return f
}

// TestLogout: /logout asks first (a GET signs nobody out), signs out on the
// confirmed POST, revokes what the session issued, and sends the browser
// back only to a post_logout_redirect_uri registered for the client.
func TestLogout(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t, envOptions{})
	ctx := testContext(t)
	spa := e.oauthConfig("spa", oauth2.AuthStyleInParams)
	tok, fl := e.login(ctx, t, "spa", "alice")
	b := fl.browser

	// Refused return addresses: an error page, no redirect, still signed in.
	for _, tc := range []struct {
		name string
		q    url.Values
	}{
		{"unregistered post_logout_redirect_uri", url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {"https://evil.example/"}}},
		{"registered for another client", url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {backendSignedOut}}},
		{"a prefix of a registered URI", url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {spaSignedOut + "/more"}}},
		{"no client_id to check it against", url.Values{"post_logout_redirect_uri": {spaSignedOut}}},
		{"unknown client", url.Values{"client_id": {"nobody"}, "post_logout_redirect_uri": {spaSignedOut}}},
		{"a redirect URI that is not a post-logout URI", url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {spaRedirect}}},
		{"client_id given twice", url.Values{"client_id": {"spa", "spa"}, "post_logout_redirect_uri": {spaSignedOut}}},
		{"state over 2048 bytes", url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {spaSignedOut}, "state": {strings.Repeat("s", 2049)}}},
		{"id_token_hint over 8 KiB", url.Values{"id_token_hint": {strings.Repeat("h", 8<<10+1)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get(ctx, e.issuer+"/logout?"+tc.q.Encode())
			if p.status != http.StatusBadRequest || p.location() != "" {
				t.Errorf("GET /logout: %s, want a 400 error page and no redirect", describe(p))
			}
			if strings.Contains(p.body, "evil.example") {
				t.Errorf("the error page links to the unregistered address")
			}
		})
	}

	// The confirmation page alone signs nobody out.
	f := logoutForm(ctx, t, e.issuer, b, url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {spaSignedOut}, "state": {"bye & = ✓"}})
	if got, _ := ssoAttempt(ctx, t, b, spa); got != "code" {
		t.Fatalf("after GET /logout the session is gone (%q): a GET must not sign out", got)
	}
	// A code issued in the session but not yet redeemed when it ends.
	_, pending := ssoAttempt(ctx, t, b, spa)

	// A forged confirmation is refused.
	forged := url.Values{}
	for k, v := range f.fields {
		forged[k] = v
	}
	forged.Set("csrf_token", randomToken(t, "forged-"))
	if p := b.postForm(ctx, f.action, forged, nil); p.status != http.StatusForbidden || p.location() != "" {
		t.Errorf("POST /logout with a wrong csrf_token: %s, want 403 and no redirect", describe(p))
	}
	if got, _ := ssoAttempt(ctx, t, b, spa); got != "code" {
		t.Fatalf("a refused sign-out ended the session (%q)", got)
	}

	// The real confirmation.
	p := b.postForm(ctx, f.action, f.fields, nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("POST /logout: %s, want 303 to the registered post_logout_redirect_uri", describe(p))
	}
	loc, err := url.Parse(p.location())
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != spaSignedOut || loc.Query().Get("state") != "bye & = ✓" {
		t.Fatalf("POST /logout redirected to %q, want %s with the state unchanged", p.location(), spaSignedOut)
	}

	// Signed out: the form is back, the session's refresh tokens and its
	// unredeemed code are dead.
	if got, _ := ssoAttempt(ctx, t, b, spa); got != "form" {
		t.Errorf("after signing out /authorize answered %q, want the login form", got)
	}
	rt, err := refreshWith(ctx, spa, tok.RefreshToken)
	wantOAuthError(t, rt, err, "invalid_grant")
	late, err := spa.Exchange(ctx, pending.Get("code"), oauth2.VerifierOption(pending.Get("verifier")))
	wantOAuthError(t, late, err, "invalid_grant")

	// Signing out again (or without any session) shows the signed-out page.
	again := b.get(ctx, e.issuer+"/logout")
	if again.status != http.StatusOK || again.location() != "" || strings.Contains(again.body, "csrf_token") {
		t.Errorf("GET /logout when signed out: %s, want the signed-out page", describe(again))
	}

	// Tokens of another session of the same user live on.
	other, _ := e.login(ctx, t, "backend", "alice")
	if _, err := refreshWith(ctx, e.oauthConfig("backend", oauth2.AuthStyleInHeader), other.RefreshToken); err != nil {
		t.Errorf("a refresh token of another browser's session stopped working: %v", err)
	}
	e.assertNoPanic()
}

// TestRevocationAndIntrospection drives /revoke (RFC 7009) and /introspect
// (RFC 7662) over HTTP, and checks what a resource server using the
// server's in-process verifier and what the application see.
func TestRevocationAndIntrospection(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t, envOptions{loginUnlimited: true})
	ctx := testContext(t)
	spaConf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
	backendConf := e.oauthConfig("backend", oauth2.AuthStyleInHeader)
	api := newResourceAPI(t, e.server.Verifier())

	spaTok, _ := e.login(ctx, t, "spa", "alice")
	beTok, _ := e.login(ctx, t, "backend", "alice")
	rotated := beTok.RefreshToken
	beTok2, err := refreshWith(ctx, backendConf, rotated)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if p := callAPI(t, api, "Bearer "+spaTok.AccessToken); p.status != http.StatusOK {
		t.Fatalf("before revocation the API refuses the token: %s", describe(p))
	}

	// Revocations, each answered 200 (RFC 7009 §2.2), unknown tokens too.
	for _, r := range []struct{ name, client, token, hint string }{
		{"the spa's access token, by the spa", "spa", spaTok.AccessToken, ""},
		{"the spa's refresh token, by the spa, hinted", "spa", spaTok.RefreshToken, "refresh_token"},
		{"an unknown opaque token", "backend", randomToken(t, "unknown-"), ""},
		{"an unknown JWT", "backend", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", ""},
		{"three dots of nothing", "backend", "a.b.c", ""},
		{"20,000 characters", "backend", strings.Repeat("x", 20000), ""},
	} {
		p := e.revoke(ctx, t, r.client, r.token, r.hint)
		if p.status != http.StatusOK {
			t.Errorf("revoking %s: %s, want 200", r.name, describe(p))
		}
	}
	// A confidential client with a wrong secret revokes nothing.
	if p := e.formRequest(ctx, t, "/revoke", url.Values{"token": {beTok2.RefreshToken}}.Encode(), "backend", "wrong-secret"); p.status != http.StatusUnauthorized || jsonError(t, p) != "invalid_client" {
		t.Errorf("revoking with a bad secret: %s, want 401 invalid_client", describe(p))
	}

	// What the application and the resource server notice.
	if p := callAPI(t, api, "Bearer "+spaTok.AccessToken); p.status != http.StatusUnauthorized {
		t.Errorf("the revoked access token is still accepted by the in-process verifier: %s", describe(p))
	}
	if p := callAPI(t, api, "Bearer "+beTok2.AccessToken); p.status != http.StatusOK {
		t.Errorf("another token stopped working: %s", describe(p))
	}
	dead, err := refreshWith(ctx, spaConf, spaTok.RefreshToken)
	wantOAuthError(t, dead, err, "invalid_grant")

	// Introspection by a resource server (the confidential client backend).
	cases := []struct {
		name   string
		token  string
		active bool
		want   map[string]any // members an active answer must carry
	}{
		{"live access token", beTok2.AccessToken, true, map[string]any{"sub": "user-alice", "client_id": "backend", "iss": e.issuer, "scope": "api:read", "role": "admin", "token_type": "Bearer"}},
		{"live access token of another client", e.mustToken(ctx, "spa", "bob"), true, map[string]any{"sub": "user-bob", "client_id": "spa"}},
		{"live refresh token of the asking client", beTok2.RefreshToken, true, map[string]any{"sub": "user-alice", "client_id": "backend", "token_type": "refresh_token", "scope": "api:read"}},
		{"revoked access token", spaTok.AccessToken, false, nil},
		{"revoked refresh token", spaTok.RefreshToken, false, nil},
		{"rotated refresh token", rotated, false, nil},
		{"refresh token of another client", mustRefreshToken(ctx, t, e, "spa"), false, nil},
		{"unknown opaque token", randomToken(t, "unknown-"), false, nil},
		{"three dots of nothing", "a.b.c", false, nil},
		{"20,000 characters", strings.Repeat("x", 20000), false, nil},
		{"JWT with a changed subject", forgeSubject(t, beTok2.AccessToken), false, nil},
		{"truncated JWT", beTok2.AccessToken[:len(beTok2.AccessToken)-3], false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := e.introspect(ctx, t, tc.token)
			if got["active"] != tc.active {
				t.Fatalf("active=%v, want %v: %v", got["active"], tc.active, got)
			}
			if !tc.active && len(got) != 1 {
				t.Errorf("an inactive answer carries more than active: %v", got)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}

	// Who may ask: confidential clients with their secret only.
	for _, tc := range []struct {
		name       string
		body       url.Values
		user, pass string
	}{
		{"public client", url.Values{"token": {beTok2.AccessToken}, "client_id": {"spa"}}, "", ""},
		{"public client by Basic without a password", url.Values{"token": {beTok2.AccessToken}}, "spa", ""},
		{"wrong secret", url.Values{"token": {beTok2.AccessToken}}, "backend", "wrong-secret"},
		{"unknown client", url.Values{"token": {beTok2.AccessToken}}, "nobody", "x"},
		{"no client authentication", url.Values{"token": {beTok2.AccessToken}}, "", ""},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			p := e.formRequest(ctx, t, "/introspect", tc.body.Encode(), tc.user, tc.pass)
			if p.status != http.StatusUnauthorized || jsonError(t, p) != "invalid_client" {
				t.Errorf("%s, want 401 invalid_client", describe(p))
			}
			if strings.Contains(p.body, "active") || strings.Contains(p.body, "user-alice") {
				t.Errorf("a refused introspection tells about the token: %s", p.body)
			}
		})
	}

	// Time passes: the access token expires and is inactive.
	e.clock.Advance(16 * time.Minute)
	if got := e.introspect(ctx, t, beTok2.AccessToken); got["active"] != false {
		t.Errorf("an expired access token introspects as %v, want active false", got)
	}
	if p := callAPI(t, api, "Bearer "+beTok2.AccessToken); p.status != http.StatusUnauthorized {
		t.Errorf("the expired access token is accepted: %s", describe(p))
	}
	e.clock.Advance(8 * 24 * time.Hour) // past the 7-day idle lifetime
	if got := e.introspect(ctx, t, beTok2.RefreshToken); got["active"] != false {
		t.Errorf("an idle-expired refresh token introspects as %v, want active false", got)
	}
	idle, err := refreshWith(ctx, backendConf, beTok2.RefreshToken)
	wantOAuthError(t, idle, err, "invalid_grant")
	e.assertNoPanic()
}

// forgeSubject changes the sub claim of a signed token without re-signing it.
func forgeSubject(t *testing.T, tok string) string {
	t.Helper()
	j := decodeJWT(t, tok)
	j.claims["sub"] = "user-bob"
	return j.raw[0] + "." + encodeSegment(t, j.claims) + "." + j.raw[2]
}

// mustRefreshToken signs alice in with clientID and returns a refresh token.
func mustRefreshToken(ctx context.Context, t *testing.T, e *env, clientID string) string {
	t.Helper()
	tok, _ := e.login(ctx, t, clientID, "alice")
	return tok.RefreshToken
}

// TestClientCredentials: a service account gets a token for itself through
// golang.org/x/oauth2/clientcredentials, with its configured claims and
// scopes; nobody else does.
func TestClientCredentials(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t, envOptions{})
	ctx := testContext(t)
	cc := func(id, secret string, scopes ...string) *clientcredentials.Config {
		style := oauth2.AuthStyleInHeader
		if secret == "" {
			style = oauth2.AuthStyleInParams
		}
		return &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.issuer + "/token", Scopes: scopes, AuthStyle: style}
	}
	secret := e.secrets[serviceAccount]

	t.Run("granted", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			scopes []string
			want   string
		}{
			{"default scopes", nil, "reports:read reports:write"},
			{"narrower scope", []string{"reports:read"}, "reports:read"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tok, err := cc(serviceAccount, secret, tc.scopes...).Token(ctx)
				if err != nil {
					t.Fatalf("client credentials: %v", err)
				}
				if tok.RefreshToken != "" {
					t.Errorf("a refresh token came with client credentials (RFC 6749 §4.4.3 says it should not)")
				}
				if got := tok.Extra("scope"); got != tc.want {
					t.Errorf("the token response's scope is %v, want %q", got, tc.want)
				}
				claims, err := e.server.Verifier().Verify(ctx, tok.AccessToken)
				if err != nil {
					t.Fatalf("the token does not verify: %v", err)
				}
				want := map[string]any{"sub": serviceAccount, "client_id": serviceAccount, "scope": tc.want, "role": "reporter", "team": "finance", "iss": e.issuer}
				for k, v := range want {
					if claims[k] != v {
						t.Errorf("claim %s = %v, want %v", k, claims[k], v)
					}
				}
				if _, ok := claims["auth_time"]; ok {
					t.Errorf("a service account token carries auth_time: nobody signed in")
				}
			})
		}
	})

	for _, tc := range []struct {
		name   string
		conf   *clientcredentials.Config
		code   string
		status int
	}{
		{"public client", cc("spa", ""), "unauthorized_client", http.StatusBadRequest},
		{"confidential client without the grant", cc("backend", e.secrets["backend"]), "unauthorized_client", http.StatusBadRequest},
		{"bad secret", cc(serviceAccount, "wrong-"+secret), "invalid_client", http.StatusUnauthorized},
		{"another client's secret", cc(serviceAccount, e.secrets["backend"]), "invalid_client", http.StatusUnauthorized},
		{"no secret", cc(serviceAccount, ""), "invalid_client", http.StatusUnauthorized},
		{"unknown client", cc("nobody", secret), "invalid_client", http.StatusUnauthorized},
		{"scope not configured", cc(serviceAccount, secret, "admin"), "invalid_scope", http.StatusBadRequest},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			tok, err := tc.conf.Token(ctx)
			wantOAuthError(t, tok, err, tc.code)
			if _, status := oauthErrorCode(t, err); status != tc.status {
				t.Errorf("HTTP %d, want %d", status, tc.status)
			}
		})
	}

	// A service account cannot sign users in or refresh.
	sa := &oauth2.Config{ClientID: serviceAccount, RedirectURL: backendRedirect,
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/authorize", TokenURL: e.issuer + "/token"}}
	p := e.newBrowser().get(ctx, sa.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if p.status != http.StatusBadRequest || p.location() != "" {
		t.Errorf("/authorize for the service account: %s, want an error page", describe(p))
	}

	// A public client can never be registered for client credentials.
	cfg := e.cfg
	cfg.Clients = []keystile.Client{{ID: "spa-cc", Public: true, GrantTypes: []string{keystile.GrantClientCredentials}}}
	if _, err := keystile.New(cfg); err == nil {
		t.Errorf("keystile.New accepted a public client with client_credentials")
	}
	e.assertNoPanic()
}

// TestKeyRotation: after Server.RotateKey, tokens signed by the old key still
// verify (in process and through the JWKS), new tokens carry the new kid,
// and a JWKS verifier built before the rotation learns the new kid without a
// restart. Once the old key's tokens have all expired, it leaves the JWKS.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t, envOptions{alg: "RS256", loginUnlimited: true})
	ctx := testContext(t)
	before := e.jwksVerifier(t)
	oldTok := e.mustToken(ctx, "backend", "alice")
	oldKid, _ := decodeJWT(t, oldTok).header["kid"].(string)
	if _, err := before.Verify(ctx, oldTok); err != nil {
		t.Fatalf("the first token does not verify through the JWKS: %v", err)
	}

	next, err := keystile.NewSigningKey(newP256Key())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.server.RotateKey(next); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if err := e.server.RotateKey(next); err == nil {
		t.Errorf("RotateKey accepted a key id already in the ring")
	}
	if err := e.server.RotateKey(keystile.SigningKey{}); err == nil {
		t.Errorf("RotateKey accepted an uninitialised key")
	}
	if kids := jwksKids(t, e.issuer); !slices.Contains(kids, oldKid) || !slices.Contains(kids, next.KeyID()) {
		t.Fatalf("the JWKS lists %v after rotation, want both %s and %s", kids, oldKid, next.KeyID())
	}
	newTok := e.mustToken(ctx, "backend", "alice")
	if h := decodeJWT(t, newTok).header; h["kid"] != next.KeyID() || h["alg"] != "ES256" {
		t.Fatalf("a token issued after rotation has header %v, want kid %s and alg ES256", h, next.KeyID())
	}

	// The verifier built before the rotation refetches the JWKS when it
	// meets the new kid, at most once per DefaultJWKSRefreshInterval.
	e.clock.Advance(keystile.DefaultJWKSRefreshInterval + time.Second)
	after := e.jwksVerifier(t)
	for _, v := range []struct {
		name string
		v    *keystile.Verifier
	}{{"JWKS verifier built before rotation", before}, {"JWKS verifier built after rotation", after}, {"in-process verifier", e.server.Verifier()}} {
		for _, tok := range []struct{ name, tok string }{{"old key's token", oldTok}, {"new key's token", newTok}} {
			if _, err := v.v.Verify(ctx, tok.tok); err != nil {
				t.Errorf("%s refuses the %s: %v", v.name, tok.name, err)
			}
		}
	}
	api := newResourceAPI(t, before)
	for _, tok := range []string{oldTok, newTok} {
		if p := callAPI(t, api, "Bearer "+tok); p.status != http.StatusOK {
			t.Errorf("the API behind the pre-rotation JWKS verifier: %s", describe(p))
		}
	}

	// Every token of the old key has expired: the key leaves the JWKS and
	// the new one keeps signing.
	e.clock.Advance(15*time.Minute + keystile.DefaultLeeway + time.Minute)
	if kids := jwksKids(t, e.issuer); slices.Contains(kids, oldKid) || !slices.Contains(kids, next.KeyID()) {
		t.Errorf("the JWKS lists %v once the old key's tokens expired, want only %s", kids, next.KeyID())
	}
	if _, err := after.Verify(ctx, e.mustToken(ctx, "spa", "bob")); err != nil {
		t.Errorf("a token issued long after rotation does not verify: %v", err)
	}
	e.assertNoPanic()
}

// jwksKids lists the kids the issuer's JWKS publishes.
func jwksKids(t testing.TB, issuer string) []string {
	t.Helper()
	var kids []string
	for _, k := range fetchJWKS(t, issuer).Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// lifecycleFixture is what each bad-input case starts from: a signed-in
// browser with the spa's tokens, the backend's tokens, and the sign-out
// form's CSRF token.
type lifecycleFixture struct {
	e         *env
	spa       *oauth2.Token
	backend   *oauth2.Token
	browser   *browser
	logoutCSR string
}

func newLifecycleFixture(ctx context.Context, t *testing.T, e *env) *lifecycleFixture {
	t.Helper()
	spa, fl := e.login(ctx, t, "spa", "alice")
	be, _ := e.login(ctx, t, "backend", "alice")
	f := logoutForm(ctx, t, e.issuer, fl.browser, nil)
	return &lifecycleFixture{e: e, spa: spa, backend: be, browser: fl.browser, logoutCSR: f.fields.Get("csrf_token")}
}

// spaRefreshWorks and backendRefreshWorks check that a bad request left the
// token intact: not revoked, not rotated.
func (fx *lifecycleFixture) spaRefreshWorks(ctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := refreshWith(ctx, fx.e.oauthConfig("spa", oauth2.AuthStyleInParams), fx.spa.RefreshToken); err != nil {
		t.Errorf("the spa's refresh token no longer works after the bad request: %v", err)
	}
}

func (fx *lifecycleFixture) backendRefreshWorks(ctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := refreshWith(ctx, fx.e.oauthConfig("backend", oauth2.AuthStyleInHeader), fx.backend.RefreshToken); err != nil {
		t.Errorf("the backend's refresh token no longer works after the bad request: %v", err)
	}
}

func (fx *lifecycleFixture) sessionAlive(ctx context.Context, t *testing.T) {
	t.Helper()
	if got, _ := ssoAttempt(ctx, t, fx.browser, fx.e.oauthConfig("spa", oauth2.AuthStyleInParams)); got != "code" {
		t.Errorf("the browser session ended after the bad request (/authorize answered %q)", got)
	}
}

// TestLifecycleBadInput: replayed, truncated, forged and cross-client refresh
// tokens, grants a client may not use, and huge or repeated parameters at
// /token, /revoke, /introspect and /logout. Each gets the right error (RFC
// 6749 §5.2 JSON, or an error page for /logout), never a 500, never a token,
// and leaves the legitimate tokens and session as they were.
func TestLifecycleBadInput(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t, envOptions{loginUnlimited: true})
	be, sa := e.secrets["backend"], e.secrets[serviceAccount]
	enc := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	refreshBody := func(rt string) string {
		return enc("grant_type", "refresh_token", "refresh_token", rt, "client_id", "spa")
	}
	huge := strings.Repeat("A", 70<<10)
	cases := []struct {
		name string
		// send makes the bad request; fx is fresh for every case.
		send   func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page
		status int
		code   string // the JSON error; "" for an HTML error page
		// intact checks what the request must have left working.
		intact func(fx *lifecycleFixture, ctx context.Context, t *testing.T)
	}{
		// /token, refresh tokens.
		{"replayed refresh token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			old := fx.spa.RefreshToken
			next, err := refreshWith(ctx, e.oauthConfig("spa", oauth2.AuthStyleInParams), old)
			if err != nil {
				t.Fatalf("first refresh: %v", err)
			}
			fx.spa = next // what intact checks
			return e.formRequest(ctx, t, "/token", refreshBody(old), "", "")
		}, 400, "invalid_grant", func(fx *lifecycleFixture, ctx context.Context, t *testing.T) {
			// The replay revoked the family: the token it was rotated into
			// is dead too (RFC 9700 §4.14.2).
			tok, err := refreshWith(ctx, fx.e.oauthConfig("spa", oauth2.AuthStyleInParams), fx.spa.RefreshToken)
			wantOAuthError(t, tok, err, "invalid_grant")
		}},
		{"truncated refresh token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", refreshBody(fx.spa.RefreshToken[:len(fx.spa.RefreshToken)-1]), "", "")
		}, 400, "invalid_grant", (*lifecycleFixture).spaRefreshWorks},
		{"refresh token with one character changed", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			rt := []byte(fx.spa.RefreshToken)
			if rt[5] == 'A' {
				rt[5] = 'B'
			} else {
				rt[5] = 'A'
			}
			return e.formRequest(ctx, t, "/token", refreshBody(string(rt)), "", "")
		}, 400, "invalid_grant", (*lifecycleFixture).spaRefreshWorks},
		{"forged refresh token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", refreshBody(rand.Text()+rand.Text()), "", "")
		}, 400, "invalid_grant", (*lifecycleFixture).spaRefreshWorks},
		{"refresh token with a trailing space", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", refreshBody(fx.spa.RefreshToken+" "), "", "")
		}, 400, "invalid_grant", (*lifecycleFixture).spaRefreshWorks},
		{"60 KiB refresh token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", refreshBody(strings.Repeat("A", 60<<10)), "", "")
		}, 400, "invalid_grant", (*lifecycleFixture).spaRefreshWorks},
		{"the spa's refresh token presented by backend", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", enc("grant_type", "refresh_token", "refresh_token", fx.spa.RefreshToken), "backend", be)
		}, 400, "invalid_grant", (*lifecycleFixture).spaRefreshWorks},
		{"backend's refresh token presented by the spa", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", refreshBody(fx.backend.RefreshToken), "", "")
		}, 400, "invalid_grant", (*lifecycleFixture).backendRefreshWorks},
		{"an access token as refresh token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", refreshBody(fx.spa.AccessToken), "", "")
		}, 400, "invalid_grant", (*lifecycleFixture).spaRefreshWorks},
		{"refresh_token given twice", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", enc("grant_type", "refresh_token", "refresh_token", fx.spa.RefreshToken, "refresh_token", fx.spa.RefreshToken, "client_id", "spa"), "", "")
		}, 400, "invalid_request", (*lifecycleFixture).spaRefreshWorks},
		{"grant_type given twice", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", enc("grant_type", "refresh_token", "grant_type", "refresh_token", "refresh_token", fx.spa.RefreshToken, "client_id", "spa"), "", "")
		}, 400, "invalid_request", (*lifecycleFixture).spaRefreshWorks},
		{"client_id given twice", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", refreshBody(fx.spa.RefreshToken)+"&client_id=backend", "", "")
		}, 400, "invalid_request", (*lifecycleFixture).spaRefreshWorks},
		{"empty refresh_token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", refreshBody(""), "", "")
		}, 400, "invalid_request", nil},
		{"refresh_token in the query, not the body", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token?refresh_token="+url.QueryEscape(fx.spa.RefreshToken), enc("grant_type", "refresh_token", "client_id", "spa"), "", "")
		}, 400, "invalid_request", (*lifecycleFixture).spaRefreshWorks},
		{"scope widened on refresh", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			// A grant of profile alone; api:read is allowed for the client
			// but was not granted, so a refresh may not add it.
			conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
			conf.Scopes = []string{"profile"}
			narrow, err := signInAt(ctx, t, newBrowserFor(t, e.issuer, nil), e.issuer, conf, "alice", e.users["alice"].password).exchange(ctx)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			fx.spa = narrow // what intact checks
			return e.formRequest(ctx, t, "/token", refreshBody(narrow.RefreshToken)+"&scope=profile+api%3Aread", "", "")
		}, 400, "invalid_scope", (*lifecycleFixture).spaRefreshWorks},
		{"scope on refresh the client may not have", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", refreshBody(fx.spa.RefreshToken)+"&scope=admin", "", "")
		}, 400, "invalid_scope", (*lifecycleFixture).spaRefreshWorks},
		{"refresh with a bad client secret", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", enc("grant_type", "refresh_token", "refresh_token", fx.backend.RefreshToken), "backend", "wrong-secret")
		}, 401, "invalid_client", (*lifecycleFixture).backendRefreshWorks},
		{"body over 64 KiB", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", refreshBody(fx.spa.RefreshToken)+"&pad="+huge, "", "")
		}, 413, "invalid_request", (*lifecycleFixture).spaRefreshWorks},
		{"more than 64 parameters", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", manyParams(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fx.spa.RefreshToken}, "client_id": {"spa"}}, 100), "", "")
		}, 400, "invalid_request", (*lifecycleFixture).spaRefreshWorks},

		// /token, grant types per client.
		{"password grant", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", enc("grant_type", "password", "username", "alice", "password", e.users["alice"].password), "backend", be)
		}, 400, "unsupported_grant_type", nil},
		{"client_credentials for a public client", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", enc("grant_type", "client_credentials", "client_id", "spa"), "", "")
		}, 400, "unauthorized_client", nil},
		{"client_credentials for a client without the grant", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", enc("grant_type", "client_credentials"), "backend", be)
		}, 400, "unauthorized_client", nil},
		{"refresh_token grant for the service account", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", enc("grant_type", "refresh_token", "refresh_token", fx.backend.RefreshToken), serviceAccount, sa)
		}, 400, "unauthorized_client", (*lifecycleFixture).backendRefreshWorks},
		{"authorization_code grant for the service account", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/token", enc("grant_type", "authorization_code", "code", rand.Text(), "code_verifier", oauth2.GenerateVerifier()), serviceAccount, sa)
		}, 400, "unauthorized_client", nil},

		// /revoke.
		{"revoke: token given twice", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/revoke", enc("token", fx.spa.RefreshToken, "token", fx.spa.RefreshToken, "client_id", "spa"), "", "")
		}, 400, "invalid_request", (*lifecycleFixture).spaRefreshWorks},
		{"revoke: no token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/revoke", enc("client_id", "spa"), "", "")
		}, 400, "invalid_request", nil},
		{"revoke: body over 64 KiB", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/revoke", enc("token", fx.spa.RefreshToken, "client_id", "spa", "pad", huge), "", "")
		}, 413, "invalid_request", (*lifecycleFixture).spaRefreshWorks},
		{"revoke: more than 64 parameters", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/revoke", manyParams(url.Values{"token": {fx.spa.RefreshToken}, "client_id": {"spa"}}, 100), "", "")
		}, 400, "invalid_request", (*lifecycleFixture).spaRefreshWorks},
		{"revoke: 60 KiB token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/revoke", enc("token", strings.Repeat("A", 60<<10), "client_id", "spa"), "", "")
		}, 200, "", (*lifecycleFixture).spaRefreshWorks},
		{"revoke: token in the query, not the body", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/revoke?token="+url.QueryEscape(fx.spa.RefreshToken), enc("client_id", "spa"), "", "")
		}, 400, "invalid_request", (*lifecycleFixture).spaRefreshWorks},
		{"revoke: another client's refresh token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/revoke", enc("token", fx.spa.RefreshToken), "backend", be)
		}, 400, "unauthorized_client", (*lifecycleFixture).spaRefreshWorks},
		{"revoke: another client's access token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/revoke", enc("token", fx.backend.AccessToken, "client_id", "spa"), "", "")
		}, 400, "unauthorized_client", func(fx *lifecycleFixture, ctx context.Context, t *testing.T) {
			if got := fx.e.introspect(ctx, t, fx.backend.AccessToken); got["active"] != true {
				t.Errorf("the backend's access token was revoked by the spa: %v", got)
			}
		}},
		{"revoke: bad client secret", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/revoke", enc("token", fx.backend.RefreshToken), "backend", "wrong-secret")
		}, 401, "invalid_client", (*lifecycleFixture).backendRefreshWorks},
		{"revoke: no client authentication", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/revoke", enc("token", fx.spa.RefreshToken), "", "")
		}, 401, "invalid_client", (*lifecycleFixture).spaRefreshWorks},

		// /introspect.
		{"introspect: public client", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/introspect", enc("token", fx.spa.AccessToken, "client_id", "spa"), "", "")
		}, 401, "invalid_client", nil},
		{"introspect: bad secret", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/introspect", enc("token", fx.spa.AccessToken), "backend", "wrong-secret")
		}, 401, "invalid_client", nil},
		{"introspect: token given twice", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/introspect", enc("token", fx.spa.AccessToken, "token", fx.backend.AccessToken), "backend", be)
		}, 400, "invalid_request", nil},
		{"introspect: no token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/introspect", "", "backend", be)
		}, 400, "invalid_request", nil},
		{"introspect: body over 64 KiB", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/introspect", enc("token", fx.spa.AccessToken, "pad", huge), "backend", be)
		}, 413, "invalid_request", nil},
		{"introspect: more than 64 parameters", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return e.formRequest(ctx, t, "/introspect", manyParams(url.Values{"token": {fx.spa.AccessToken}}, 100), "backend", be)
		}, 400, "invalid_request", nil},

		// /logout, from the signed-in browser.
		{"logout: post_logout_redirect_uri given twice", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return fx.browser.postForm(ctx, e.issuer+"/logout", url.Values{"csrf_token": {fx.logoutCSR}, "client_id": {"spa"}, "post_logout_redirect_uri": {spaSignedOut, "https://evil.example/"}}, nil)
		}, 400, "", sessionAndTokensIntact},
		{"logout: unregistered post_logout_redirect_uri", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return fx.browser.postForm(ctx, e.issuer+"/logout", url.Values{"csrf_token": {fx.logoutCSR}, "client_id": {"spa"}, "post_logout_redirect_uri": {"https://evil.example/"}}, nil)
		}, 400, "", sessionAndTokensIntact},
		{"logout: client_id given twice", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return fx.browser.postForm(ctx, e.issuer+"/logout", url.Values{"csrf_token": {fx.logoutCSR}, "client_id": {"backend", "spa"}, "post_logout_redirect_uri": {spaSignedOut}}, nil)
		}, 400, "", sessionAndTokensIntact},
		{"logout: csrf_token given twice", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return fx.browser.postForm(ctx, e.issuer+"/logout", url.Values{"csrf_token": {fx.logoutCSR, fx.logoutCSR}}, nil)
		}, 400, "", sessionAndTokensIntact},
		{"logout: wrong csrf_token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return fx.browser.postForm(ctx, e.issuer+"/logout", url.Values{"csrf_token": {randomToken(t, "csrf-")}}, nil)
		}, 403, "", sessionAndTokensIntact},
		{"logout: 60 KiB csrf_token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return fx.browser.postForm(ctx, e.issuer+"/logout", url.Values{"csrf_token": {strings.Repeat("A", 60<<10)}}, nil)
		}, 403, "", sessionAndTokensIntact},
		{"logout: cross-site POST with the right csrf_token", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return fx.browser.postForm(ctx, e.issuer+"/logout", url.Values{"csrf_token": {fx.logoutCSR}}, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}})
		}, 403, "", sessionAndTokensIntact},
		{"logout: body over 64 KiB", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return fx.browser.postForm(ctx, e.issuer+"/logout", url.Values{"csrf_token": {fx.logoutCSR}, "pad": {huge}}, nil)
		}, 400, "", sessionAndTokensIntact},
		{"logout: more than 64 parameters", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			body := manyParams(url.Values{"csrf_token": {fx.logoutCSR}}, 100)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.issuer+"/logout", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return fx.browser.do(req)
		}, 400, "", sessionAndTokensIntact},
		{"logout: GET with a 16 KiB post_logout_redirect_uri", func(ctx context.Context, t *testing.T, fx *lifecycleFixture) page {
			return fx.browser.get(ctx, e.issuer+"/logout?client_id=spa&post_logout_redirect_uri="+url.QueryEscape(spaSignedOut+"?"+strings.Repeat("s", 16<<10)))
		}, 400, "", sessionAndTokensIntact},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			fx := newLifecycleFixture(ctx, t, e)
			p := tc.send(ctx, t, fx)
			if p.status != tc.status {
				t.Errorf("status %d, want %d: %s", p.status, tc.status, describe(p))
			}
			assertNoToken(t, tc.name, p)
			if tc.code != "" {
				if got := jsonError(t, p); got != tc.code {
					t.Errorf("error %q, want %q", got, tc.code)
				}
				if cc := p.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
					t.Errorf("Cache-Control %q, want no-store", cc)
				}
			}
			if loc := p.location(); loc != "" {
				t.Errorf("the bad request was answered with a redirect to %q", loc)
			}
			if tc.intact != nil {
				tc.intact(fx, ctx, t)
			}
		})
	}
	t.Cleanup(e.assertNoPanic)
}

// sessionAndTokensIntact: a refused sign-out leaves the browser signed in
// and the session's refresh token working.
func sessionAndTokensIntact(fx *lifecycleFixture, ctx context.Context, t *testing.T) {
	t.Helper()
	fx.sessionAlive(ctx, t)
	fx.spaRefreshWorks(ctx, t)
}

// newP256Key returns a new ECDSA P-256 private key, for an ES256 SigningKey.
func newP256Key() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}
