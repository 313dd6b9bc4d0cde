package keystile

import (
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
