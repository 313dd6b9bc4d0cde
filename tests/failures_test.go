package tests

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile/store"
)

// TestWrongVerifierBurnsCode: a failed PKCE check consumes the code, so a
// stolen code cannot be tried against guessed verifiers (RFC 9700 §2.1.1).
func TestWrongVerifierBurnsCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := testContext(t)
	fl := e.signIn(ctx, e.oauthConfig("spa", oauth2.AuthStyleInParams), "alice")

	tok, err := fl.conf.Exchange(ctx, fl.code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantOAuthError(t, tok, err, "invalid_grant")

	tok, err = fl.exchange(ctx)
	wantOAuthError(t, tok, err, "invalid_grant")
}

// TestReusedCode: a code redeems once (RFC 6749 §4.1.2).
func TestReusedCode(t *testing.T) {
	t.Parallel()
	for _, clientID := range []string{"spa", "backend"} {
		t.Run(clientID, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			ctx := testContext(t)
			style := oauth2.AuthStyleInHeader
			if clientID == "spa" {
				style = oauth2.AuthStyleInParams
			}
			fl := e.signIn(ctx, e.oauthConfig(clientID, style), "alice")
			if _, err := fl.exchange(ctx); err != nil {
				t.Fatalf("first redemption: %v", err)
			}
			tok, err := fl.exchange(ctx)
			wantOAuthError(t, tok, err, "invalid_grant")
		})
	}
}

// TestConcurrentRedemption: twenty clients redeem one code at the same
// instant; exactly one gets a token.
func TestConcurrentRedemption(t *testing.T) {
	t.Parallel()
	for name, st := range testStores() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{store: st})
			ctx := testContext(t)
			fl := e.signIn(ctx, e.oauthConfig("backend", oauth2.AuthStyleInHeader), "alice")

			const n = 20
			var (
				start    = make(chan struct{})
				wg       sync.WaitGroup
				mu       sync.Mutex
				wins     int
				failures = map[string]int{}
			)
			for range n {
				wg.Go(func() {
					<-start
					_, err := fl.exchange(ctx)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						wins++
						return
					}
					// No t.Fatal off the test goroutine: count what came back.
					failures[errorCode(err)]++
				})
			}
			close(start)
			wg.Wait()
			if wins != 1 || failures["invalid_grant"] != n-1 {
				t.Fatalf("%d redemptions won and the others failed with %v; want exactly 1 win and %d invalid_grant", wins, failures, n-1)
			}
		})
	}
}

// testStores are the backends the end-to-end flow runs against.
func testStores() map[string]func(testing.TB) store.Store {
	return map[string]func(testing.TB) store.Store{
		"memory":   nil,
		"sqlite":   openSQLite,
		"postgres": openPostgres,
	}
}

// TestTokenRequestMismatch: a code is bound to the redirect URI and the
// client it was issued for (RFC 6749 §4.1.3).
func TestTokenRequestMismatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		issuedTo string                                        // client that signed in
		redeem   func(e *env, c *oauth2.Config) *oauth2.Config // what the redeeming side sends
	}{
		{"another registered redirect_uri of the same client", "spa", func(e *env, c *oauth2.Config) *oauth2.Config {
			c.RedirectURL = spaOtherRedirect
			return c
		}},
		{"no redirect_uri", "spa", func(e *env, c *oauth2.Config) *oauth2.Config {
			c.RedirectURL = ""
			return c
		}},
		{"confidential client B redeems client A's code", "backend", func(e *env, c *oauth2.Config) *oauth2.Config {
			b := e.oauthConfig("partner", oauth2.AuthStyleInHeader)
			b.RedirectURL = backendRedirect
			return b
		}},
		{"public client redeems a confidential client's code", "backend", func(e *env, c *oauth2.Config) *oauth2.Config {
			b := e.oauthConfig("spa", oauth2.AuthStyleInParams)
			b.RedirectURL = backendRedirect
			return b
		}},
		{"confidential client redeems a public client's code", "spa", func(e *env, c *oauth2.Config) *oauth2.Config {
			b := e.oauthConfig("backend", oauth2.AuthStyleInHeader)
			b.RedirectURL = spaRedirect
			return b
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			ctx := testContext(t)
			style := oauth2.AuthStyleInHeader
			if tc.issuedTo == "spa" {
				style = oauth2.AuthStyleInParams
			}
			fl := e.signIn(ctx, e.oauthConfig(tc.issuedTo, style), "alice")
			conf := *fl.conf
			tok, err := tc.redeem(e, &conf).Exchange(ctx, fl.code, oauth2.VerifierOption(fl.verifier))
			wantOAuthError(t, tok, err, "invalid_grant")
		})
	}
}

// TestBadClientAuthentication: a wrong secret, or no secret, is
// invalid_client with 401 (RFC 6749 §5.2), and no code is given away.
func TestBadClientAuthentication(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		style  oauth2.AuthStyle
		secret string
	}{
		{"wrong secret, client_secret_basic", oauth2.AuthStyleInHeader, "wrong-secret"},
		{"wrong secret, client_secret_post", oauth2.AuthStyleInParams, "wrong-secret"},
		{"no secret", oauth2.AuthStyleInParams, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			ctx := testContext(t)
			fl := e.signIn(ctx, e.oauthConfig("backend", oauth2.AuthStyleInHeader), "alice")
			conf := *fl.conf
			conf.ClientSecret = tc.secret
			conf.Endpoint.AuthStyle = tc.style
			tok, err := conf.Exchange(ctx, fl.code, oauth2.VerifierOption(fl.verifier))
			wantOAuthError(t, tok, err, "invalid_client")
			if _, status := oauthErrorCode(t, err); status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", status)
			}
		})
	}

	t.Run("unknown client", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		p := e.rawTokenRequest(testContext(t), url.Values{
			"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {backendRedirect},
			"code_verifier": {oauth2.GenerateVerifier()},
		}, "nobody", "whatever")
		if p.status != http.StatusUnauthorized || jsonError(t, p) != "invalid_client" {
			t.Errorf("unknown client: %s, want 401 invalid_client", describe(p))
		}
	})
}

// TestExpiredCode: a code is short-lived (60 s by default).
func TestExpiredCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := testContext(t)
	fl := e.signIn(ctx, e.oauthConfig("spa", oauth2.AuthStyleInParams), "alice")
	e.clock.Advance(61 * time.Second) // past the default CodeTTL of 60 s
	tok, err := fl.exchange(ctx)
	wantOAuthError(t, tok, err, "invalid_grant")
}

// TestUntrustedAuthorizeRequest: when the client or the redirect URI cannot
// be trusted, the user gets an error page, never a redirect (RFC 6749
// §4.1.2.1, docs/security.md §1).
func TestUntrustedAuthorizeRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	valid := func() url.Values {
		return url.Values{
			"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {spaRedirect},
			"state": {"s"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		}
	}
	with := func(k string, vs ...string) url.Values {
		v := valid()
		if vs == nil {
			v.Del(k)
		} else {
			v[k] = vs
		}
		return v
	}
	cases := []struct {
		name  string
		query url.Values
	}{
		{"unknown client_id", with("client_id", "nobody")},
		{"no client_id", with("client_id")},
		{"client_id given twice", with("client_id", "spa", "spa")},
		{"unregistered redirect_uri", with("redirect_uri", "https://evil.example/callback")},
		{"no redirect_uri", with("redirect_uri")},
		{"redirect_uri given twice", with("redirect_uri", spaRedirect, "https://evil.example/callback")},
		{"redirect_uri with a different case", with("redirect_uri", "https://SPA.example.test/callback")},
		{"redirect_uri with a trailing slash", with("redirect_uri", spaRedirect+"/")},
		{"redirect_uri with a longer path", with("redirect_uri", spaRedirect+"/../../evil")},
		{"redirect_uri with an added query", with("redirect_uri", spaRedirect+"?next=https://evil.example")},
		{"redirect_uri with userinfo", with("redirect_uri", "https://spa.example.test@evil.example/callback")},
		{"redirect_uri on a host suffix", with("redirect_uri", "https://spa.example.test.evil.example/callback")},
		{"redirect_uri with another port", with("redirect_uri", "https://spa.example.test:8443/callback")},
		{"redirect_uri over http", with("redirect_uri", "http://spa.example.test/callback")},
		{"redirect_uri with javascript:", with("redirect_uri", "javascript:alert(1)")},
		{"redirect_uri of another client", with("redirect_uri", backendRedirect)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := e.newBrowser().get(testContext(t), e.issuer+"/authorize?"+tc.query.Encode())
			if p.status != http.StatusBadRequest {
				t.Errorf("status %d, want 400 and an error page", p.status)
			}
			if loc := p.location(); loc != "" {
				t.Errorf("Location %q: an untrusted request must never be redirected", loc)
			}
			if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want an HTML error page", ct)
			}
			if _, ok := parseLoginForm(e.issuer+"/authorize", p); ok {
				t.Errorf("an untrusted request got a login form")
			}
		})
	}
}

// TestAuthorizeErrorsRedirectBack: once the client and redirect URI are
// trusted, other errors go back to the application with error, the state
// unchanged and iss (RFC 6749 §4.1.2.1, RFC 9207).
func TestAuthorizeErrorsRedirectBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	verifier := oauth2.GenerateVerifier()
	challenge := oauth2.S256ChallengeFromVerifier(verifier)
	valid := func() url.Values {
		return url.Values{
			"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {spaRedirect},
			"state": {trickyState}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		}
	}
	with := func(k string, vs ...string) url.Values {
		v := valid()
		if vs == nil {
			v.Del(k)
		} else {
			v[k] = vs
		}
		return v
	}
	cases := []struct {
		name  string
		query url.Values
		want  string
	}{
		{"no code_challenge", with("code_challenge"), "invalid_request"},
		{"no code_challenge_method", with("code_challenge_method"), "invalid_request"},
		{"plain method", with("code_challenge_method", "plain"), "invalid_request"},
		{"plain method with the verifier as challenge", func() url.Values {
			v := with("code_challenge_method", "plain")
			v.Set("code_challenge", verifier)
			return v
		}(), "invalid_request"},
		{"code_challenge given twice", with("code_challenge", challenge, challenge), "invalid_request"},
		{"response_type given twice", with("response_type", "code", "code"), "invalid_request"},
		{"scope given twice", with("scope", "profile", "api:read"), "invalid_request"},
		{"no response_type", with("response_type"), "invalid_request"},
		{"implicit grant", with("response_type", "token"), "unsupported_response_type"},
		{"scope the client may not ask for", with("scope", "admin"), "invalid_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := e.newBrowser().get(testContext(t), e.issuer+"/authorize?"+tc.query.Encode())
			q := authResponse(t, p, spaRedirect)
			if got := q.Get("error"); got != tc.want {
				t.Errorf("error=%q (%s), want %q", got, q.Get("error_description"), tc.want)
			}
			if got := q.Get("state"); got != trickyState {
				t.Errorf("state=%q, want %q unchanged", got, trickyState)
			}
			if got := q.Get("iss"); got != e.issuer {
				t.Errorf("iss=%q, want %q", got, e.issuer)
			}
			if q.Has("code") {
				t.Errorf("an error response carries a code")
			}
		})
	}

	t.Run("POST behaves like GET", func(t *testing.T) {
		t.Parallel()
		p := e.newBrowser().postForm(testContext(t), e.issuer+"/authorize", with("code_challenge_method", "plain"), nil)
		if q := authResponse(t, p, spaRedirect); q.Get("error") != "invalid_request" || q.Get("state") != trickyState {
			t.Errorf("POST /authorize with plain: %v, want error=invalid_request with the state", q)
		}
	})
}

// TestDuplicatedTokenParameters: a parameter sent twice to /token is
// invalid_request (RFC 6749 §3.2), whichever copy would be right.
func TestDuplicatedTokenParameters(t *testing.T) {
	t.Parallel()
	for _, param := range []string{"code", "code_verifier", "redirect_uri", "grant_type", "client_id"} {
		t.Run(param, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			ctx := testContext(t)
			fl := e.signIn(ctx, e.oauthConfig("spa", oauth2.AuthStyleInParams), "alice")
			form := url.Values{
				"grant_type": {"authorization_code"}, "code": {fl.code}, "redirect_uri": {spaRedirect},
				"client_id": {"spa"}, "code_verifier": {fl.verifier},
			}
			form[param] = append(form[param], form[param][0])
			p := e.rawTokenRequest(ctx, form, "", "")
			if p.status != http.StatusBadRequest || jsonError(t, p) != "invalid_request" {
				t.Errorf("%s twice: %s, want 400 invalid_request", param, describe(p))
			}
			assertNoToken(t, param+" twice", p)
		})
	}
}
