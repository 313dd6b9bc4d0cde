package keystile

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// newDeviceEnv is the test server with a public device client "tv".
func newDeviceEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvWith(t, func(c *Config) {
		c.Clients = append(c.Clients, Client{ID: "tv", Public: true, GrantTypes: []string{GrantDeviceCode}, Scopes: []string{"read"}})
	})
}

func (e *testEnv) deviceAuth(form url.Values) (int, map[string]any) {
	e.t.Helper()
	resp, body := e.postForm(http.DefaultClient, "/device_authorization", form, nil)
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	return resp.StatusCode, m
}

// TestDeviceAuthorizationRefusals: what /device_authorization refuses, and
// with which RFC 6749 §5.2 error.
func TestDeviceAuthorizationRefusals(t *testing.T) {
	e := newDeviceEnv(t)
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"unknown client", url.Values{"client_id": {"nope"}}, 401, "invalid_client"},
		{"client without the grant", url.Values{"client_id": {"spa"}}, 400, "unauthorized_client"},
		{"scope the client may not have", url.Values{"client_id": {"tv"}, "scope": {"admin"}}, 400, "invalid_scope"},
		{"scope twice", url.Values{"client_id": {"tv"}, "scope": {"read", "read"}}, 400, "invalid_request"},
		{"no client", url.Values{}, 401, "invalid_client"},
		// No resource is configured: an unknown one is refused, not ignored.
		{"a resource", url.Values{"client_id": {"tv"}, "resource": {"https://api.example.com"}}, 400, "invalid_target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, m := e.deviceAuth(tc.form)
			if status != tc.status || m["error"] != tc.code {
				t.Fatalf("status %d, %v; want %d %s", status, m, tc.status, tc.code)
			}
		})
	}
}

// TestDeviceGrantPolls: the poll answers of RFC 8628 §3.5 through the
// handler, with the server's clock moved instead of sleeping.
func TestDeviceGrantPolls(t *testing.T) {
	e := newDeviceEnv(t)
	status, m := e.deviceAuth(url.Values{"client_id": {"tv"}, "scope": {"read"}})
	if status != 200 {
		t.Fatalf("device authorization: %d %v", status, m)
	}
	dc := m["device_code"].(string)
	poll := func(form url.Values) string {
		t.Helper()
		resp, body := e.postForm(http.DefaultClient, "/token", form, nil)
		var r map[string]any
		_ = json.Unmarshal([]byte(body), &r)
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		if code, _ := r["error"].(string); code != "" {
			return code
		}
		return "token"
	}
	grant := func(code string) url.Values {
		return url.Values{"grant_type": {GrantDeviceCode}, "client_id": {"tv"}, "device_code": {code}}
	}
	for _, want := range []struct {
		advance time.Duration
		form    url.Values
		code    string
	}{
		{0, grant(dc), "authorization_pending"},
		{time.Second, grant(dc), "slow_down"},
		{6 * time.Second, grant(dc), "slow_down"}, // the interval grew to 10 s, and now to 15 s
		{15 * time.Second, grant(dc), "authorization_pending"},
		{0, url.Values{"grant_type": {GrantDeviceCode}, "client_id": {"tv"}}, "invalid_request"},
		{0, url.Values{"grant_type": {GrantDeviceCode}, "client_id": {"spa"}, "device_code": {dc}}, "unauthorized_client"},
		{0, grant(strings.Repeat("a", 300)), "invalid_grant"},
		{0, url.Values{"grant_type": {GrantDeviceCode}, "client_id": {"tv"}, "device_code": {dc}, "resource": {"https://api.example.com"}}, "invalid_target"},
		{10 * time.Minute, grant(dc), "expired_token"},
	} {
		e.clock.Advance(want.advance)
		if got := poll(want.form); got != want.code {
			t.Fatalf("after %v: %s, want %s", want.advance, got, want.code)
		}
	}
}

// TestDevicePageRefusals: the /device form is CSRF-protected and
// same-origin, like the login form.
func TestDevicePageRefusals(t *testing.T) {
	e := newDeviceEnv(t)
	b := e.browser()
	resp, body := e.get(b, "/device", url.Values{"user_code": {strings.Repeat("<b>", 100)}})
	if resp.StatusCode != 200 || strings.Contains(body, "<b>") {
		t.Fatalf("GET /device with a hostile code: %d\n%s", resp.StatusCode, body)
	}
	csrf := hiddenValue(t, body, "csrf_token")
	for _, tc := range []struct {
		name   string
		form   url.Values
		header http.Header
		status int
	}{
		{"no CSRF token", url.Values{"user_code": {"BCDF-GHJK"}}, nil, 403},
		{"wrong CSRF token", url.Values{"user_code": {"BCDF-GHJK"}, "csrf_token": {"x" + csrf}}, nil, 403},
		{"cross-site", url.Values{"user_code": {"BCDF-GHJK"}, "csrf_token": {csrf}}, http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}, 403},
		{"a field twice", url.Values{"user_code": {"A", "B"}, "csrf_token": {csrf}}, nil, 400},
		{"no credentials", url.Values{"user_code": {"BCDF-GHJK"}, "csrf_token": {csrf}}, nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := e.postForm(b, "/device", tc.form, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	// Another browser's token is worthless here.
	_, other := e.get(e.browser(), "/device", nil)
	if resp, _ := e.postForm(b, "/device", url.Values{"user_code": {"BCDF-GHJK"}, "csrf_token": {hiddenValue(t, other, "csrf_token")}}, nil); resp.StatusCode != 403 {
		t.Fatalf("another browser's CSRF token: status %d, want 403", resp.StatusCode)
	}
}
