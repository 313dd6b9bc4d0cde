package keystile

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// TestCookiesOnHTTPSIssuer: on an https issuer both cookies carry the
// __Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/ and no Domain, so
// no sibling subdomain can plant or read them (docs/security.md §5).
func TestCookiesOnHTTPSIssuer(t *testing.T) {
	e := newTestEnvTLS(t, true, nil)
	c := e.browser()
	resp, body := e.get(c, "/authorize", authorizeQuery())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/authorize: status %d", resp.StatusCode)
	}
	checkHostCookie(t, resp, "__Host-keystile_browser")
	f := parseLoginForm(t, body)
	resp, _ = e.postForm(c, "/login", map[string][]string{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {"alice"}, "password": {testPassword}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("/login: status %d", resp.StatusCode)
	}
	checkHostCookie(t, resp, "__Host-keystile_session")
}

func checkHostCookie(t *testing.T, resp *http.Response, name string) {
	t.Helper()
	for _, raw := range resp.Header.Values("Set-Cookie") {
		if !strings.HasPrefix(raw, name+"=") {
			continue
		}
		for _, attr := range []string{"; Path=/", "; HttpOnly", "; Secure", "; SameSite=Lax"} {
			if !strings.Contains(raw, attr) {
				t.Errorf("cookie %s lacks %q: %s", name, attr, raw)
			}
		}
		if strings.Contains(strings.ToLower(raw), "domain=") {
			t.Errorf("cookie %s has a Domain: %s", name, raw)
		}
		return
	}
	t.Errorf("no %s cookie set; got %q", name, resp.Header.Values("Set-Cookie"))
}

// TestCookieCSRF: a form's token passes only with its own form and cookie,
// and is made as before the two forms shared the helper (SHA-256 of the
// prefix and the cookie, base64url), so that a page opened before an
// upgrade still posts.
func TestCookieCSRF(t *testing.T) {
	const cookie = "Zm9yLXRoZS10ZXN0LW9ubHktNDMtY2hhcmFjdGVycw0"
	sum := sha256.Sum256([]byte("keystile-device-csrf:" + cookie))
	if got, want := cookieCSRF(deviceForm, cookie), base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("device token %q, want %q as before", got, want)
	}
	sum = sha256.Sum256([]byte("keystile-logout-csrf:" + cookie))
	if got, want := cookieCSRF(logoutForm, cookie), base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("logout token %q, want %q as before", got, want)
	}
	device := cookieCSRF(deviceForm, cookie)
	for _, tc := range []struct {
		name   string
		posted params
		form   string
		cookie string
		want   bool
	}{
		{"its own form and cookie", params{"csrf_token": device}, deviceForm, cookie, true},
		{"the other form", params{"csrf_token": device}, logoutForm, cookie, false},
		{"another cookie", params{"csrf_token": device}, deviceForm, cookie + "x", false},
		{"none posted", params{}, deviceForm, cookie, false},
		{"empty", params{"csrf_token": ""}, deviceForm, cookie, false},
		{"the cookie itself", params{"csrf_token": cookie}, deviceForm, cookie, false},
	} {
		if got := postedCSRF(tc.posted, tc.form, tc.cookie); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
