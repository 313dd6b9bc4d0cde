package keystile

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAuthorizeRequestChecks(t *testing.T) {
	e := newTestEnv(t)
	with := func(edit func(q url.Values)) url.Values {
		q := authorizeQuery()
		edit(q)
		return q
	}
	tests := []struct {
		name      string
		q         url.Values
		wantPage  bool   // an error page: the client or redirect URI is not trusted
		wantError string // the error code, on the page or in the redirect
		wantState bool   // the redirect carries the client's state
	}{
		{"unknown client", with(func(q url.Values) { q.Set("client_id", "nobody") }), true, "invalid_request", false},
		{"missing client", with(func(q url.Values) { q.Del("client_id") }), true, "invalid_request", false},
		{"unregistered redirect URI", with(func(q url.Values) { q.Set("redirect_uri", "https://evil.example.com/cb") }), true, "invalid_request", false},
		{"redirect URI with extra path", with(func(q url.Values) { q.Set("redirect_uri", spaRedirect+"/x") }), true, "invalid_request", false},
		{"redirect URI of another client", with(func(q url.Values) { q.Set("redirect_uri", backendRedirect) }), true, "invalid_request", false},
		{"javascript redirect URI", with(func(q url.Values) { q.Set("redirect_uri", "javascript:alert(1)") }), true, "invalid_request", false},
		{"missing redirect URI", with(func(q url.Values) { q.Del("redirect_uri") }), true, "invalid_request", false},
		{"client_id twice", with(func(q url.Values) { q.Add("client_id", "spa") }), true, "invalid_request", false},
		{"redirect_uri twice", with(func(q url.Values) { q.Add("redirect_uri", spaRedirect) }), true, "invalid_request", false},
		{"scope twice", with(func(q url.Values) { q.Add("scope", "openid") }), false, "invalid_request", true},
		{"code_challenge twice", with(func(q url.Values) { q.Add("code_challenge", rfcChallenge) }), false, "invalid_request", true},
		{"state twice", with(func(q url.Values) { q.Add("state", "other") }), false, "invalid_request", false},
		{"missing response_type", with(func(q url.Values) { q.Del("response_type") }), false, "invalid_request", true},
		{"implicit flow", with(func(q url.Values) { q.Set("response_type", "token") }), false, "unsupported_response_type", true},
		{"hybrid flow", with(func(q url.Values) { q.Set("response_type", "code id_token") }), false, "unsupported_response_type", true},
		{"missing code_challenge", with(func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }), false, "invalid_request", true},
		{"missing method", with(func(q url.Values) { q.Del("code_challenge_method") }), false, "invalid_request", true},
		{"plain method", with(func(q url.Values) { q.Set("code_challenge_method", "plain") }), false, "invalid_request", true},
		{"lower-case s256", with(func(q url.Values) { q.Set("code_challenge_method", "s256") }), false, "invalid_request", true},
		{"short challenge", with(func(q url.Values) { q.Set("code_challenge", "abc") }), false, "invalid_request", true},
		{"challenge with bad characters", with(func(q url.Values) { q.Set("code_challenge", strings.Repeat("+", 43)) }), false, "invalid_request", true},
		{"scope not allowed for client", with(func(q url.Values) { q.Set("scope", "openid admin") }), false, "invalid_scope", true},
		{"malformed scope", with(func(q url.Values) { q.Set("scope", "open\"id") }), false, "invalid_scope", true},
		{"prompt none without session", with(func(q url.Values) { q.Set("prompt", "none") }), false, "login_required", true},
		{"request object", with(func(q url.Values) { q.Set("request", "eyJ...") }), false, "request_not_supported", true},
		{"fragment response mode", with(func(q url.Values) { q.Set("response_mode", "fragment") }), false, "invalid_request", true},
		{"state too long", with(func(q url.Values) { q.Set("state", strings.Repeat("s", 5000)) }), false, "invalid_request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.get(e.browser(), "/authorize", tt.q)
			loc := resp.Header.Get("Location")
			if tt.wantPage {
				if resp.StatusCode != http.StatusBadRequest || loc != "" {
					t.Fatalf("got status %d Location %q, want a 400 error page and no redirect", resp.StatusCode, loc)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q, want an HTML page", ct)
				}
				if !strings.Contains(body, tt.wantError) {
					t.Errorf("page does not name %s", tt.wantError)
				}
				return
			}
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %d, want 303; body: %s", resp.StatusCode, body)
			}
			u, err := url.Parse(loc)
			if err != nil || !strings.HasPrefix(loc, spaRedirect+"?") {
				t.Fatalf("redirected to %q, want the registered %s", loc, spaRedirect)
			}
			q := u.Query()
			if q.Get("error") != tt.wantError {
				t.Errorf("error = %q, want %q", q.Get("error"), tt.wantError)
			}
			if q.Get("iss") != e.issuer {
				t.Errorf("iss = %q, want %q (RFC 9207)", q.Get("iss"), e.issuer)
			}
			if q.Has("code") {
				t.Error("an error redirect carries a code")
			}
			if tt.wantState && q.Get("state") != tt.q.Get("state") {
				t.Errorf("state = %q, want %q unchanged", q.Get("state"), tt.q.Get("state"))
			}
			if !tt.wantState && q.Has("state") {
				t.Errorf("state %q echoed, want none", q.Get("state"))
			}
		})
	}
}

func TestAuthorizeShowsLoginPage(t *testing.T) {
	e := newTestEnv(t)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			c := e.browser()
			var resp *http.Response
			var body string
			if method == http.MethodGet {
				resp, body = e.get(c, "/authorize", authorizeQuery())
			} else {
				resp, body = e.postForm(c, "/authorize", authorizeQuery(), nil)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			parseLoginForm(t, body)
			h := resp.Header
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", h.Get("Cache-Control"))
			}
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP %q lacks frame-ancestors 'none'", csp)
			}
			var binding *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == "keystile_browser" {
					binding = ck
				}
			}
			if binding == nil || !binding.HttpOnly || binding.SameSite != http.SameSiteLaxMode {
				t.Fatalf("browser-binding cookie missing or not HttpOnly+SameSite=Lax: %+v", binding)
			}
		})
	}
}

// TestAuthorizeLoopbackAnyPort checks RFC 8252 §7.3 through the handler.
func TestAuthorizeLoopbackAnyPort(t *testing.T) {
	e := newTestEnv(t)
	q := authorizeQuery()
	q.Set("redirect_uri", "http://127.0.0.1:49152/native")
	loc := e.login(e.browser(), q)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != "http://127.0.0.1:49152/native" {
		t.Fatalf("redirected to %s, want the requested loopback port", got)
	}
	if loc.Query().Get("code") == "" {
		t.Fatal("no code")
	}
}

// TestAuthorizeUndecodableDuplicate: a second copy of a parameter that does
// not decode must not slip past the duplicate check (docs/security.md §2).
func TestAuthorizeUndecodableDuplicate(t *testing.T) {
	e := newTestEnv(t)
	for _, extra := range []string{"&client_id=%zz", "&code_challenge_method=%zz", ";x=1"} {
		resp, err := e.browser().Get(e.issuer + "/authorize?" + authorizeQuery().Encode() + extra)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || strings.Contains(body, `name="password"`) {
			t.Errorf("query + %q: status %d, want a 400 error page", extra, resp.StatusCode)
		}
	}
}
