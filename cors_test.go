package keystile

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keystile/keystile/password"
)

const (
	spaOrigin     = "https://spa.example.com"
	otherOrigin   = "https://other.example.com"
	consoleOrigin = "https://console.example.com"
)

// newCORSEnv is a real server on loopback with two browser clients, each
// with its own origin, a browser client of the device grant ("console",
// a web console that shows a code to enter on a phone) with its own, and a
// confidential client with none.
func newCORSEnv(t *testing.T) *testEnv {
	t.Helper()
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := NewSigningKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return newTestEnvWith(t, func(cfg *Config) {
		cfg.Clients = []Client{
			{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect}, AllowedOrigins: []string{spaOrigin}, Scopes: []string{"openid", "read"}},
			{ID: "other", Public: true, RedirectURIs: []string{otherOrigin + "/cb"}, AllowedOrigins: []string{otherOrigin}},
			{ID: "console", Public: true, GrantTypes: []string{GrantDeviceCode}, AllowedOrigins: []string{consoleOrigin}, Scopes: []string{"read"}},
			{ID: "backend", SecretHash: password.HashClientSecret(testClientSecret), RedirectURIs: []string{backendRedirect}},
		}
		cfg.Keys = []SigningKey{key}
		cfg.IDTokenKey = SigningKey{} // the ES256 access-token key signs ID tokens too
		cfg.ValidateUser = func(ctx context.Context, username, password string) (Identity, error) {
			if username == "alice" && password == testPassword {
				return Identity{Subject: "alice"}, nil
			}
			return Identity{}, ErrInvalidCredentials
		}
		cfg.LookupUser = nil
	})
}

// TestCORSPreflight sends the OPTIONS request a browser sends before a
// cross-origin fetch, and reads what a browser reads: the
// Access-Control-Allow-* headers of the real server's answer.
func TestCORSPreflight(t *testing.T) {
	e := newCORSEnv(t)
	cases := []struct {
		name, path, origin, method, headers string
		wantOrigin                          string // "" = the browser must refuse
	}{
		{"token: registered origin", "/token", spaOrigin, "POST", "content-type", spaOrigin},
		{"token: the other client's origin", "/token", otherOrigin, "POST", "content-type", otherOrigin},
		{"token: Authorization header", "/token", spaOrigin, "POST", "authorization,content-type", spaOrigin},
		{"token: no extra headers", "/token", spaOrigin, "POST", "", spaOrigin},
		{"token: unknown origin", "/token", "https://evil.example", "POST", "content-type", ""},
		{"token: registered origin in other case", "/token", "https://SPA.example.com", "POST", "content-type", ""},
		{"token: registered origin with a slash", "/token", spaOrigin + "/", "POST", "content-type", ""},
		{"token: registered origin on another port", "/token", spaOrigin + ":8443", "POST", "content-type", ""},
		{"token: registered origin over http", "/token", "http://spa.example.com", "POST", "content-type", ""},
		{"token: sub-domain of a registered origin", "/token", "https://a.spa.example.com", "POST", "content-type", ""},
		{"token: null origin", "/token", "null", "POST", "content-type", ""},
		{"token: wrong method PUT", "/token", spaOrigin, "PUT", "content-type", ""},
		{"token: wrong method GET", "/token", spaOrigin, "GET", "", ""},
		{"token: header not allowed", "/token", spaOrigin, "POST", "content-type,x-requested-with", ""},
		{"device authorization: registered origin", "/device_authorization", consoleOrigin, "POST", "content-type", consoleOrigin},
		{"device authorization: Authorization header", "/device_authorization", consoleOrigin, "POST", "authorization,content-type", consoleOrigin},
		{"device authorization: unknown origin", "/device_authorization", "https://evil.example", "POST", "content-type", ""},
		{"device authorization: wrong method GET", "/device_authorization", consoleOrigin, "GET", "", ""},
		{"revoke: registered origin", "/revoke", spaOrigin, "POST", "content-type", spaOrigin},
		{"revoke: unknown origin", "/revoke", "https://evil.example", "POST", "content-type", ""},
		{"userinfo: GET with a bearer token", "/userinfo", spaOrigin, "GET", "authorization", spaOrigin},
		{"userinfo: POST", "/userinfo", spaOrigin, "POST", "authorization,content-type", spaOrigin},
		{"userinfo: unknown origin", "/userinfo", "https://evil.example", "GET", "authorization", ""},
		{"userinfo: wrong method DELETE", "/userinfo", spaOrigin, "DELETE", "authorization", ""},
		{"jwks: any origin", "/.well-known/jwks.json", "https://evil.example", "GET", "", "*"},
		{"jwks: null origin", "/.well-known/jwks.json", "null", "GET", "", "*"},
		{"jwks: wrong method POST", "/.well-known/jwks.json", spaOrigin, "POST", "", ""},
		{"metadata: any origin", "/.well-known/oauth-authorization-server", "https://evil.example", "GET", "", "*"},
		{"openid configuration: any origin", "/.well-known/openid-configuration", "https://evil.example", "GET", "", "*"},
		{"authorize is never CORS", "/authorize", spaOrigin, "GET", "", ""},
		{"authorize POST is never CORS", "/authorize", spaOrigin, "POST", "content-type", ""},
		{"login is never CORS", "/login", spaOrigin, "POST", "content-type", ""},
		{"logout is never CORS", "/logout", spaOrigin, "GET", "", ""},
		{"introspect is never CORS", "/introspect", spaOrigin, "POST", "content-type", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodOptions, e.issuer+tc.path, nil)
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Access-Control-Request-Method", tc.method)
			if tc.headers != "" {
				req.Header.Set("Access-Control-Request-Headers", tc.headers)
			}
			resp, err := e.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			if got := h.Values("Access-Control-Allow-Origin"); tc.wantOrigin == "" && len(got) != 0 {
				t.Fatalf("Access-Control-Allow-Origin = %q: the browser would allow the request", got)
			} else if tc.wantOrigin != "" && (len(got) != 1 || got[0] != tc.wantOrigin) {
				t.Fatalf("Access-Control-Allow-Origin = %q, want %q (status %d)", got, tc.wantOrigin, resp.StatusCode)
			}
			// Tokens are sent in the body or the Authorization header, never
			// in cookies: a credentialed fetch must always be refused.
			if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q, want none", got)
			}
			if tc.wantOrigin == "" {
				if got := h.Get("Access-Control-Allow-Methods"); got != "" {
					t.Errorf("a refused preflight still lists methods %q", got)
				}
				return
			}
			if got := h.Get("Access-Control-Allow-Methods"); got != tc.method {
				t.Errorf("Access-Control-Allow-Methods = %q, want %q", got, tc.method)
			}
			for _, want := range strings.Split(tc.headers, ",") {
				if want != "" && !strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), want) {
					t.Errorf("Access-Control-Allow-Headers = %q, lacks %q", h.Get("Access-Control-Allow-Headers"), want)
				}
			}
			if tc.wantOrigin != "*" && !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary = %q: a shared cache could give one origin's answer to another", h.Values("Vary"))
			}
			if got := h.Get("Access-Control-Max-Age"); got != "600" {
				t.Errorf("Access-Control-Max-Age = %q, want 600", got)
			}
		})
	}
}

// TestCORSTokenOrigin sends /token requests the way a browser does after
// the preflight, or without one (a form-encoded POST needs none), and checks
// that only the client's own origin gets anything.
func TestCORSTokenOrigin(t *testing.T) {
	e := newCORSEnv(t)
	bogusCode := url.Values{
		"grant_type": {"authorization_code"}, "code": {"not-a-code"}, "redirect_uri": {spaRedirect},
		"client_id": {"spa"}, "code_verifier": {rfcVerifier},
	}
	cases := []struct {
		name        string
		origin      string // "" = no Origin header
		form        url.Values
		basic       bool   // authenticate as backend with HTTP Basic
		wantError   string // the error the handler reaches
		wantACAO    string
		wantRefused bool // refused for its origin, before the grant is looked at
	}{
		{"the client's own origin reaches the grant", spaOrigin, bogusCode, false, "invalid_grant", spaOrigin, false},
		{"no Origin: a server or native app", "", bogusCode, false, "invalid_grant", "", false},
		{"the issuer's own origin: same-origin", "ISSUER", bogusCode, false, "invalid_grant", "", false},
		{"another client's origin", otherOrigin, bogusCode, false, "invalid_client", otherOrigin, true},
		{"an unregistered origin", "https://evil.example", bogusCode, false, "invalid_client", "", true},
		{"the null origin", "null", bogusCode, false, "invalid_client", "", true},
		{"a confidential client called from a browser", spaOrigin, url.Values{"grant_type": {"client_credentials"}}, true, "invalid_client", spaOrigin, true},
		{"an unknown client is the handler's to refuse", spaOrigin, url.Values{"grant_type": {"authorization_code"}, "client_id": {"nobody"}}, false, "invalid_client", spaOrigin, false},
		{"a repeated client_id is the handler's to refuse", spaOrigin, url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa", "other"}}, false, "invalid_request", spaOrigin, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.basic {
				h = basicAuth("backend", testClientSecret)
			}
			switch tc.origin {
			case "":
			case "ISSUER":
				h.Set("Origin", e.issuer)
			default:
				h.Set("Origin", tc.origin)
			}
			resp, body := e.postForm(e.http.Client(), "/token", tc.form, h)
			var got struct{ Error, ErrorDescription string }
			var raw map[string]string
			if err := json.Unmarshal([]byte(body), &raw); err != nil {
				t.Fatalf("status %d, body %q is not JSON", resp.StatusCode, body)
			}
			got.Error, got.ErrorDescription = raw["error"], raw["error_description"]
			if got.Error != tc.wantError {
				t.Errorf("error %q (%s), want %q", got.Error, got.ErrorDescription, tc.wantError)
			}
			refused := strings.Contains(got.ErrorDescription, "web origin")
			if refused != tc.wantRefused {
				t.Errorf("refused for its origin: %v, want %v (%q)", refused, tc.wantRefused, got.ErrorDescription)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.wantACAO)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}

// TestCORSDeviceAuthorization: after its preflight, a browser client's
// /device_authorization request gets the device code with the CORS headers
// that let the page read it, as /token's answer does; from another client's
// origin it is refused as /token refuses it, and from an unregistered one
// the browser may read nothing. The device code it gets is good for /token
// from the same origin.
func TestCORSDeviceAuthorization(t *testing.T) {
	e := newCORSEnv(t)
	form := url.Values{"client_id": {"console"}, "scope": {"read"}}
	for _, tc := range []struct {
		name, origin string
		status       int
		wantACAO     string
	}{
		{"the client's own origin", consoleOrigin, http.StatusOK, consoleOrigin},
		{"another client's origin", spaOrigin, http.StatusUnauthorized, spaOrigin},
		{"an unregistered origin", "https://evil.example", http.StatusUnauthorized, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.postForm(e.http.Client(), "/device_authorization", form, http.Header{"Origin": {tc.origin}})
			var m map[string]any
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatalf("status %d, body %q is not JSON", resp.StatusCode, body)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, m, tc.status)
			}
			h := resp.Header
			if got := h.Values("Access-Control-Allow-Origin"); tc.wantACAO == "" && len(got) != 0 || tc.wantACAO != "" && (len(got) != 1 || got[0] != tc.wantACAO) {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.wantACAO)
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary = %q: a shared cache could give one origin's answer to another", h.Values("Vary"))
			}
			if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q, want none", got)
			}
			if got := h.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if tc.status != http.StatusOK {
				if m["error"] != "invalid_client" || m["device_code"] != nil {
					t.Errorf("refused with %v, want invalid_client and no device code", m)
				}
				return
			}
			dc, _ := m["device_code"].(string)
			if dc == "" || m["user_code"] == nil {
				t.Fatalf("no device code: %v", m)
			}
			resp, body = e.postForm(e.http.Client(), "/token", url.Values{"grant_type": {GrantDeviceCode}, "client_id": {"console"}, "device_code": {dc}}, http.Header{"Origin": {consoleOrigin}})
			if !strings.Contains(body, "authorization_pending") || resp.Header.Get("Access-Control-Allow-Origin") != consoleOrigin {
				t.Errorf("poll from the console: status %d, %s, Access-Control-Allow-Origin %q", resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}
}

// TestCORSWrongOriginBurnsNothing: a code sent from another client's origin
// is refused without being redeemed, so the real client still gets its
// tokens, from its own origin.
func TestCORSWrongOriginBurnsNothing(t *testing.T) {
	e := newCORSEnv(t)
	loc := e.login(e.browser(), authorizeQuery())
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {spaRedirect},
		"client_id": {"spa"}, "code_verifier": {rfcVerifier},
	}
	resp, body := e.postForm(e.http.Client(), "/token", form, http.Header{"Origin": {otherOrigin}})
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "access_token") {
		t.Fatalf("from another client's origin: status %d, body %s; want 401 and no token", resp.StatusCode, body)
	}
	resp, body = e.postForm(e.http.Client(), "/token", form, http.Header{"Origin": {spaOrigin}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "access_token") {
		t.Fatalf("from the client's own origin afterwards: status %d, body %s; want the tokens", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != spaOrigin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q: the app could not read its tokens", got, spaOrigin)
	}
}

// TestCORSPagesNeverAllowed: whatever the Origin, the pages and their
// redirects carry no CORS header, so no other site can read a login form
// (its CSRF token) or the redirect with the code.
func TestCORSPagesNeverAllowed(t *testing.T) {
	e := newCORSEnv(t)
	c := e.browser()
	for _, origin := range []string{spaOrigin, "https://evil.example", "null"} {
		for _, path := range []string{"/authorize?" + authorizeQuery().Encode(), "/authorize", "/logout", "/static/keystile.css"} {
			req, _ := http.NewRequest(http.MethodGet, e.issuer+path, nil)
			req.Header.Set("Origin", origin)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for name := range resp.Header {
				if strings.HasPrefix(name, "Access-Control-") {
					t.Errorf("GET %s from %s: %s = %q", strings.SplitN(path, "?", 2)[0], origin, name, resp.Header.Get(name))
				}
			}
		}
	}
	// The public documents are readable from anywhere.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/.well-known/jwks.json", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" || resp.StatusCode != http.StatusOK {
		t.Errorf("JWKS: status %d, Access-Control-Allow-Origin %q; want 200 and *", resp.StatusCode, got)
	}
}
