package keystile

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func basicAuth(id, secret string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}}
}

// spaTokens logs in and exchanges the code: an access and a refresh token.
func (e *testEnv) spaTokens() tokenAnswer {
	e.t.Helper()
	a := e.token(exchangeForm(e.spaCode()), nil)
	if a.status != 200 || a.RefreshToken == "" {
		e.t.Fatalf("exchange: %+v", a)
	}
	return a
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}
}

func TestRefreshRotation(t *testing.T) {
	e := newTestEnv(t)
	first := e.spaTokens()
	second := e.token(refreshForm(first.RefreshToken), nil)
	if second.status != 200 || second.AccessToken == "" || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh: %+v", second)
	}
	if second.Scope != "openid read" {
		t.Errorf("scope %q, want the granted scope", second.Scope)
	}
	// The rotated token is dead, and presenting it revokes the family: the
	// token it was rotated into stops working too (RFC 9700 §4.14).
	if a := e.token(refreshForm(first.RefreshToken), nil); a.Error != "invalid_grant" {
		t.Fatalf("old refresh token after rotation: %+v", a)
	}
	if a := e.token(refreshForm(second.RefreshToken), nil); a.Error != "invalid_grant" {
		t.Fatalf("the family's newest token still works after a reuse: %+v", a)
	}
}

func TestRefreshRules(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name      string
		form      func(rt string) url.Values
		header    http.Header
		wantError string
	}{
		{"narrower scope", func(rt string) url.Values { f := refreshForm(rt); f.Set("scope", "read"); return f }, nil, ""},
		{"wider scope", func(rt string) url.Values { f := refreshForm(rt); f.Set("scope", "openid read profile"); return f }, nil, "invalid_scope"},
		{"another client's token", func(rt string) url.Values { f := refreshForm(rt); f.Del("client_id"); return f }, basicAuth("backend", testClientSecret), "invalid_grant"},
		{"truncated token", func(rt string) url.Values { return refreshForm(rt[:20]) }, nil, "invalid_grant"},
		{"forged token", func(string) url.Values { return refreshForm(newSecret()) }, nil, "invalid_grant"},
		{"huge token", func(string) url.Values { return refreshForm(strings.Repeat("r", 5000)) }, nil, "invalid_grant"},
		{"missing token", func(string) url.Values { f := refreshForm(""); return f }, nil, "invalid_request"},
		{"repeated token", func(rt string) url.Values { f := refreshForm(rt); f.Add("refresh_token", rt); return f }, nil, "invalid_request"},
		{"client without the grant", func(rt string) url.Values { f := refreshForm(rt); f.Del("client_id"); return f }, basicAuth("svc", testClientSecret), "unauthorized_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.token(tt.form(e.spaTokens().RefreshToken), tt.header)
			if a.Error != tt.wantError || (tt.wantError != "" && a.AccessToken != "") {
				t.Fatalf("got %+v, want error %q", a, tt.wantError)
			}
			if tt.wantError == "" && a.Scope != "read" {
				t.Fatalf("scope %q, want narrowed to read", a.Scope)
			}
		})
	}
	t.Run("disabled user gets nothing", func(t *testing.T) {
		rt := e.spaTokens().RefreshToken
		e.disabled.Store(true)
		defer e.disabled.Store(false)
		if a := e.token(refreshForm(rt), nil); a.Error != "invalid_grant" {
			t.Fatalf("refresh for a disabled user: %+v", a)
		}
	})
	t.Run("idle expiry", func(t *testing.T) {
		rt := e.spaTokens().RefreshToken
		e.clock.Advance(e.srv.cfg.RefreshTokenIdleTTL + 1)
		defer e.clock.Advance(-e.srv.cfg.RefreshTokenIdleTTL - 1)
		if a := e.token(refreshForm(rt), nil); a.Error != "invalid_grant" {
			t.Fatalf("refresh after idle expiry: %+v", a)
		}
	})
}

func TestRefreshConcurrentExactlyOneWins(t *testing.T) {
	e := newTestEnv(t)
	e.raceExactlyOneWins(t, refreshForm(e.spaTokens().RefreshToken), 12)
}

func TestCodeReplayRevokesItsTokens(t *testing.T) {
	e := newTestEnv(t)
	code := e.spaCode()
	a := e.token(exchangeForm(code), nil)
	if a.RefreshToken == "" {
		t.Fatalf("exchange: %+v", a)
	}
	if again := e.token(exchangeForm(code), nil); again.Error != "invalid_grant" {
		t.Fatalf("replayed code: %+v", again)
	}
	if r := e.token(refreshForm(a.RefreshToken), nil); r.Error != "invalid_grant" {
		t.Fatalf("refresh token issued from a replayed code still works: %+v", r)
	}
	if _, err := e.srv.Verifier().Verify(t.Context(), a.AccessToken); err == nil {
		t.Fatal("the access token issued from a replayed code still verifies")
	}
	if _, m := e.introspect(a.AccessToken, basicAuth("backend", testClientSecret)); m["active"] != false {
		t.Fatalf("the access token issued from a replayed code introspects as %v", m)
	}
}

func TestClientCredentials(t *testing.T) {
	e := newTestEnv(t)
	cc := url.Values{"grant_type": {"client_credentials"}}
	t.Run("service account", func(t *testing.T) {
		a := e.token(cc, basicAuth("svc", testClientSecret))
		if a.status != 200 || a.AccessToken == "" || a.RefreshToken != "" {
			t.Fatalf("client credentials: %+v", a)
		}
		claims, err := e.srv.Verifier().Verify(t.Context(), a.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if claims.Subject() != "svc" || claims["role"] != "reporter" || claims["iss"] != e.issuer || a.Scope != "reports:read reports:write" {
			t.Fatalf("claims %v scope %q", claims, a.Scope)
		}
	})
	t.Run("narrower scope", func(t *testing.T) {
		f := url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}
		if a := e.token(f, basicAuth("svc", testClientSecret)); a.Scope != "reports:read" {
			t.Fatalf("%+v", a)
		}
	})
	for _, tt := range []struct {
		name      string
		form      url.Values
		header    http.Header
		wantError string
	}{
		{"bad secret", cc, basicAuth("svc", "wrong"), "invalid_client"},
		{"public client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, nil, "unauthorized_client"},
		{"client without the grant", cc, basicAuth("backend", testClientSecret), "unauthorized_client"},
		{"scope not allowed", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, basicAuth("svc", testClientSecret), "invalid_scope"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if a := e.token(tt.form, tt.header); a.Error != tt.wantError || a.AccessToken != "" {
				t.Fatalf("got %+v, want %s", a, tt.wantError)
			}
		})
	}
}

func (e *testEnv) introspect(tok string, header http.Header) (int, map[string]any) {
	e.t.Helper()
	resp, body := e.postForm(http.DefaultClient, "/introspect", url.Values{"token": {tok}}, header)
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	return resp.StatusCode, m
}

func (e *testEnv) revoke(form url.Values, header http.Header) int {
	e.t.Helper()
	resp, _ := e.postForm(http.DefaultClient, "/revoke", form, header)
	return resp.StatusCode
}

func TestRevokeAndIntrospect(t *testing.T) {
	e := newTestEnv(t)
	rs := basicAuth("backend", testClientSecret) // a confidential client acting as resource server
	t.Run("access token", func(t *testing.T) {
		a := e.spaTokens()
		if st, m := e.introspect(a.AccessToken, rs); st != 200 || m["active"] != true || m["sub"] != "alice" || m["client_id"] != "spa" {
			t.Fatalf("introspect live access token: %d %v", st, m)
		}
		if st := e.revoke(url.Values{"token": {a.AccessToken}, "client_id": {"spa"}}, nil); st != 200 {
			t.Fatalf("revoke: status %d", st)
		}
		if _, m := e.introspect(a.AccessToken, rs); m["active"] != false || len(m) != 1 {
			t.Fatalf("revoked access token introspects as %v", m)
		}
		if _, err := e.srv.Verifier().Verify(t.Context(), a.AccessToken); err == nil {
			t.Fatal("the in-process verifier still accepts a revoked access token")
		}
	})
	t.Run("refresh token", func(t *testing.T) {
		a := e.spaTokens()
		if st := e.revoke(url.Values{"token": {a.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {"spa"}}, nil); st != 200 {
			t.Fatalf("revoke: status %d", st)
		}
		if r := e.token(refreshForm(a.RefreshToken), nil); r.Error != "invalid_grant" {
			t.Fatalf("revoked refresh token still refreshes: %+v", r)
		}
	})
	t.Run("expired access token", func(t *testing.T) {
		a := e.spaTokens()
		e.clock.Advance(e.srv.cfg.AccessTokenTTL + DefaultLeeway + 1)
		defer e.clock.Advance(-e.srv.cfg.AccessTokenTTL - DefaultLeeway - 1)
		if _, m := e.introspect(a.AccessToken, rs); m["active"] != false {
			t.Fatalf("expired token introspects as %v", m)
		}
	})
	t.Run("unknown and garbage tokens", func(t *testing.T) {
		for _, tok := range []string{newSecret(), "a.b.c", strings.Repeat("x", 20000)} {
			if st, m := e.introspect(tok, rs); st != 200 || m["active"] != false {
				t.Fatalf("introspect %.20q: %d %v", tok, st, m)
			}
			if st := e.revoke(url.Values{"token": {tok}}, rs); st != 200 {
				t.Fatalf("revoke unknown token: status %d, want 200 (RFC 7009 §2.2)", st)
			}
		}
	})
	t.Run("public client may not introspect", func(t *testing.T) {
		a := e.spaTokens()
		resp, body := e.postForm(http.DefaultClient, "/introspect", url.Values{"token": {a.AccessToken}, "client_id": {"spa"}}, nil)
		if resp.StatusCode != 401 || strings.Contains(body, "alice") {
			t.Fatalf("public client introspection: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("no client", func(t *testing.T) {
		if st := e.revoke(url.Values{"token": {"x"}}, nil); st != 401 {
			t.Fatalf("revoke without client: %d", st)
		}
	})
	t.Run("another client's refresh token", func(t *testing.T) {
		a := e.spaTokens()
		if st := e.revoke(url.Values{"token": {a.RefreshToken}}, rs); st != 400 {
			t.Fatalf("revoking another client's token: %d", st)
		}
		if r := e.token(refreshForm(a.RefreshToken), nil); r.AccessToken == "" {
			t.Fatal("another client revoked spa's refresh token")
		}
	})
}

func TestSingleSignOn(t *testing.T) {
	e := newTestEnv(t)
	browser := e.browser()
	e.login(browser, authorizeQuery())
	t.Run("second authorize skips the form", func(t *testing.T) {
		resp, _ := e.get(browser, "/authorize", authorizeQuery())
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("status %d Location %v, want a code without the form", resp.StatusCode, loc)
		}
	})
	t.Run("prompt=login shows the form", func(t *testing.T) {
		q := authorizeQuery()
		q.Set("prompt", "login")
		if resp, body := e.get(browser, "/authorize", q); resp.StatusCode != 200 || !strings.Contains(body, `name="password"`) {
			t.Fatalf("status %d, want the login form", resp.StatusCode)
		}
	})
	t.Run("max_age=0 shows the form", func(t *testing.T) {
		q := authorizeQuery()
		q.Set("max_age", "0")
		if resp, _ := e.get(browser, "/authorize", q); resp.StatusCode != 200 {
			t.Fatalf("status %d, want the login form", resp.StatusCode)
		}
	})
	t.Run("prompt=none with a session", func(t *testing.T) {
		q := authorizeQuery()
		q.Set("prompt", "none")
		resp, _ := e.get(browser, "/authorize", q)
		if loc, _ := url.Parse(resp.Header.Get("Location")); loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("prompt=none with a session: Location %q", resp.Header.Get("Location"))
		}
	})
	t.Run("expired session is not honoured", func(t *testing.T) {
		e.clock.Advance(e.srv.cfg.SessionTTL + 1)
		defer e.clock.Advance(-e.srv.cfg.SessionTTL - 1)
		if resp, _ := e.get(browser, "/authorize", authorizeQuery()); resp.StatusCode != 200 {
			t.Fatalf("status %d, want the login form", resp.StatusCode)
		}
	})
	t.Run("logout ends it", func(t *testing.T) {
		q := url.Values{"client_id": {"backend"}, "post_logout_redirect_uri": {"https://backend.example.com/bye"}, "state": {"s1"}}
		resp, body := e.get(browser, "/logout", q)
		if resp.StatusCode != 200 || resp.Header.Get("Location") != "" {
			t.Fatalf("GET /logout: status %d; a GET must only ask", resp.StatusCode)
		}
		csrf := hiddenValue(t, body, "csrf_token")
		form := url.Values{"csrf_token": {csrf}, "client_id": {"backend"}, "post_logout_redirect_uri": {"https://backend.example.com/bye"}, "state": {"s1"}}
		resp, _ = e.postForm(browser, "/logout", form, nil)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "https://backend.example.com/bye?state=s1" {
			t.Fatalf("POST /logout: status %d Location %q", resp.StatusCode, loc)
		}
		if resp, _ := e.get(browser, "/authorize", authorizeQuery()); resp.StatusCode != 200 {
			t.Fatalf("after logout: status %d, want the login form", resp.StatusCode)
		}
	})
}

func TestLogoutRefusals(t *testing.T) {
	e := newTestEnv(t)
	browser := e.browser()
	e.login(browser, authorizeQuery())
	rt := e.spaTokens().RefreshToken // issued in another browser's session: survives
	for _, tt := range []struct {
		name string
		q    url.Values
	}{
		{"unregistered post-logout URI", url.Values{"client_id": {"backend"}, "post_logout_redirect_uri": {"https://evil.example.com/"}}},
		{"post-logout URI without client", url.Values{"post_logout_redirect_uri": {"https://backend.example.com/bye"}}},
		{"redirect URI is not a post-logout URI", url.Values{"client_id": {"backend"}, "post_logout_redirect_uri": {backendRedirect}}},
		{"unknown client", url.Values{"client_id": {"nobody"}}},
		{"repeated parameter", url.Values{"client_id": {"backend", "backend"}}},
		{"state too long", url.Values{"client_id": {"backend"}, "state": {strings.Repeat("s", maxStateLen+1)}}},
		{"hint too long", url.Values{"id_token_hint": {strings.Repeat("h", maxTokenLen+1)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := e.get(browser, "/logout", tt.q)
			if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d Location %q, want an error page", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	t.Run("POST with a wrong CSRF token", func(t *testing.T) {
		resp, _ := e.postForm(browser, "/logout", url.Values{"csrf_token": {"forged"}}, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
		if resp, _ := e.get(browser, "/authorize", authorizeQuery()); resp.StatusCode != http.StatusSeeOther {
			t.Fatal("a forged sign-out ended the session")
		}
	})
	if a := e.token(refreshForm(rt), nil); a.AccessToken == "" {
		t.Fatalf("an unrelated session's refresh token stopped working: %+v", a)
	}
}
