package keystile

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

// signIn runs /authorize with q and posts the login form as username, and
// returns the code the browser is sent back with.
func (e *testEnv) signIn(c *http.Client, q url.Values, username, password string) string {
	e.t.Helper()
	resp, body := e.get(c, "/authorize", q)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("/authorize: status %d, want the login form: %s", resp.StatusCode, body)
	}
	f := parseLoginForm(e.t, body)
	resp, body = e.postForm(c, "/login", url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {username}, "password": {password}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("/login as %s: status %d, want 303: %s", username, resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	code := loc.Query().Get("code")
	if code == "" {
		e.t.Fatalf("/login as %s: redirected to %s, want a code", username, loc)
	}
	return code
}

// ssoCode runs /authorize in a browser that is signed in and returns the
// code it answers with, without the form.
func (e *testEnv) ssoCode(c *http.Client) string {
	e.t.Helper()
	resp, body := e.get(c, "/authorize", authorizeQuery())
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
		e.t.Fatalf("/authorize with a session: status %d Location %v, want a code: %s", resp.StatusCode, loc, body)
	}
	return loc.Query().Get("code")
}

// exchange redeems a spa code and returns its refresh token.
func (e *testEnv) exchange(code string) string {
	e.t.Helper()
	a := e.token(exchangeForm(code), nil)
	if a.status != http.StatusOK || a.RefreshToken == "" {
		e.t.Fatalf("exchange: %+v", a)
	}
	return a.RefreshToken
}

// signOut confirms the sign-out page in the browser, as a user clicking
// "sign out" would.
func (e *testEnv) signOut(c *http.Client) {
	e.t.Helper()
	resp, body := e.get(c, "/logout", url.Values{})
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /logout: status %d", resp.StatusCode)
	}
	csrf := hiddenValue(e.t, body, "csrf_token")
	if resp, body := e.postForm(c, "/logout", url.Values{"csrf_token": {csrf}}, nil); resp.StatusCode != http.StatusOK {
		e.t.Fatalf("POST /logout: status %d: %s", resp.StatusCode, body)
	}
}

// refreshes reports whether a refresh token still buys new tokens. A
// successful refresh rotates it, so callers use each token once.
func (e *testEnv) refreshes(rt string) bool {
	e.t.Helper()
	a := e.token(refreshForm(rt), nil)
	if a.AccessToken == "" && a.Error != codeInvalidGrant {
		e.t.Fatalf("refresh answered %+v, want tokens or invalid_grant", a)
	}
	return a.AccessToken != ""
}

func sessionCookie(t *testing.T, e *testEnv, c *http.Client) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(e.issuer)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == e.srv.sessionCookieName() {
			return ck
		}
	}
	t.Fatal("the browser has no session cookie")
	return nil
}

// A user who signs in again in the same browser (the client asked for
// prompt=login, or a max_age that had passed) gets a new session id, and the
// refresh tokens issued before still belong to the browser's session: one
// sign-out ends them all.
func TestSignInAgainKeepsOneSession(t *testing.T) {
	for _, tc := range []struct {
		name  string
		param string
		value string
	}{
		{"prompt=login", "prompt", "login"},
		{"max_age=0", "max_age", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			browser := e.browser()
			before := e.exchange(e.signIn(browser, authorizeQuery(), "alice", testPassword))
			oldCookie := sessionCookie(t, e, browser)

			again := authorizeQuery()
			again.Set(tc.param, tc.value)
			after := e.exchange(e.signIn(browser, again, "alice", testPassword))
			if sessionCookie(t, e, browser).Value == oldCookie.Value {
				t.Fatal("signing in again kept the session id (session fixation)")
			}
			// The old id no longer signs anyone in.
			planted := e.browser()
			u, _ := url.Parse(e.issuer)
			planted.Jar.SetCookies(u, []*http.Cookie{oldCookie})
			if resp, _ := e.get(planted, "/authorize", authorizeQuery()); resp.StatusCode != http.StatusOK {
				t.Fatalf("/authorize with the old session id: status %d, want the login form", resp.StatusCode)
			}
			// A token from another browser is another session: it survives.
			elsewhere := e.spaTokens().RefreshToken

			e.signOut(browser)
			if e.refreshes(before) {
				t.Error("the refresh token issued before signing in again still works after sign-out")
			}
			if e.refreshes(after) {
				t.Error("the refresh token issued after signing in again still works after sign-out")
			}
			if !e.refreshes(elsewhere) {
				t.Error("signing out of one browser revoked another browser's refresh token")
			}
		})
	}
}

// A code the client got from the session a second before the user signed in
// again (another tab, a silent prompt=none) is still redeemable: its session
// lives on as the new one. Its tokens belong to the browser's session too.
func TestCodeFromBeforeSignInAgainRedeems(t *testing.T) {
	e := newTestEnv(t)
	browser := e.browser()
	e.signIn(browser, authorizeQuery(), "alice", testPassword)
	pending := e.ssoCode(browser)

	again := authorizeQuery()
	again.Set("prompt", "login")
	e.exchange(e.signIn(browser, again, "alice", testPassword))

	a := e.token(exchangeForm(pending), nil)
	if a.status != http.StatusOK || a.RefreshToken == "" {
		t.Fatalf("redeeming the code issued before signing in again: %+v", a)
	}
	e.signOut(browser)
	if e.refreshes(a.RefreshToken) {
		t.Error("the refresh token of that code still works after sign-out")
	}
}

// Another person signing in on a shared browser ends the first person's
// session there, with its refresh tokens, as a sign-out would: the browser
// is no longer theirs. The second person's session works as usual.
func TestAnotherUserSigningInEndsTheFirstSession(t *testing.T) {
	const bobPassword = "bob's own correct horse"
	e := newTestEnvWith(t, func(c *Config) {
		validate, lookup := c.ValidateUser, c.LookupUser
		c.ValidateUser = func(ctx context.Context, username, password string) (Identity, error) {
			if username == "bob" && password == bobPassword {
				return Identity{Subject: "bob"}, nil
			}
			return validate(ctx, username, password)
		}
		c.LookupUser = func(ctx context.Context, subject string) (Identity, error) {
			if subject == "bob" {
				return Identity{Subject: "bob"}, nil
			}
			return lookup(ctx, subject)
		}
	})
	browser := e.browser()
	alices := e.exchange(e.signIn(browser, authorizeQuery(), "alice", testPassword))
	elsewhere := e.spaTokens().RefreshToken

	again := authorizeQuery()
	again.Set("prompt", "login")
	bobs := e.exchange(e.signIn(browser, again, "bob", bobPassword))

	if e.refreshes(alices) {
		t.Error("alice's refresh token from the shared browser still works after bob signed in there")
	}
	if !e.refreshes(elsewhere) {
		t.Error("alice's refresh token from another browser stopped working")
	}
	code := e.ssoCode(browser)
	a := e.token(exchangeForm(code), nil)
	claims, err := e.srv.Verifier().Verify(t.Context(), a.AccessToken)
	if err != nil || claims.Subject() != "bob" {
		t.Fatalf("the shared browser's session after bob signed in: claims %v, err %v; want bob's", claims, err)
	}
	if !e.refreshes(bobs) {
		t.Error("bob's refresh token does not work")
	}
}
