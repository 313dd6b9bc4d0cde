package keystile

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// userInfoAnswer is a /userinfo response as a relying party reads it.
type userInfoAnswer struct {
	status int
	header http.Header
	claims map[string]any
}

// userInfo calls /userinfo with method; token goes into the Authorization
// header when inHeader, into the form body when inBody.
func (e *testEnv) userInfo(method, token string, inHeader, inBody bool, extra http.Header) userInfoAnswer {
	e.t.Helper()
	var body *strings.Reader
	if inBody {
		body = strings.NewReader(url.Values{"access_token": {token}}.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, e.issuer+"/userinfo", body)
	if err != nil {
		e.t.Fatal(err)
	}
	if inBody {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if inHeader {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range extra {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	raw := readBody(e.t, resp)
	a := userInfoAnswer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal([]byte(raw), &a.claims); err != nil {
		e.t.Fatalf("/userinfo answered status %d with non-JSON %q", resp.StatusCode, raw)
	}
	return a
}

// TestUserInfo: /userinfo releases sub and what the token's scope allows,
// and refuses everything that is not a live user access token with openid.
func TestUserInfo(t *testing.T) {
	d := &oidcDirectory{}
	e := newOIDCEnv(t, d, nil)
	profile := e.oidcLogin(e.browser(), "openid profile", "n")
	email := e.oidcLogin(e.browser(), "openid email", "")
	bare := e.oidcLogin(e.browser(), "openid", "")
	noOpenID := e.oidcLogin(e.browser(), "profile read", "")
	revoked := e.oidcLogin(e.browser(), "openid profile", "")
	if resp, _ := e.postForm(http.DefaultClient, "/revoke", url.Values{"token": {revoked.AccessToken}, "client_id": {"spa"}}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("/revoke: status %d", resp.StatusCode)
	}
	service := e.oidcToken(url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, basicAuth("svc", testClientSecret))
	if service.AccessToken == "" {
		t.Fatalf("client credentials: %+v", service)
	}
	profileClaims := []string{"sub", "name", "preferred_username", "locale", "updated_at"}
	cases := []struct {
		name             string
		method           string
		token            string
		inHeader, inBody bool
		extra            http.Header
		wantStatus       int
		wantError        string // in WWW-Authenticate; "" means no error parameter
		want, notWant    []string
	}{
		{name: "GET, header, profile scope", method: http.MethodGet, token: profile.AccessToken, inHeader: true, wantStatus: 200,
			want: profileClaims, notWant: []string{"email", "email_verified", "role", "gender", "phone_number", "nonce", "iss", "aud", "scope"}},
		{name: "POST, header, email scope", method: http.MethodPost, token: email.AccessToken, inHeader: true, wantStatus: 200,
			want: []string{"sub", "email", "email_verified"}, notWant: []string{"name", "role"}},
		{name: "POST, form body, openid alone", method: http.MethodPost, token: bare.AccessToken, inBody: true, wantStatus: 200,
			want: []string{"sub"}, notWant: []string{"name", "email", "role"}},
		{name: "lower-case bearer scheme", method: http.MethodGet, token: bare.AccessToken, extra: http.Header{"Authorization": {"bearer " + bare.AccessToken}}, wantStatus: 200, want: []string{"sub"}},
		{name: "token without openid", method: http.MethodGet, token: noOpenID.AccessToken, inHeader: true, wantStatus: 403, wantError: "insufficient_scope"},
		{name: "client credentials token", method: http.MethodGet, token: service.AccessToken, inHeader: true, wantStatus: 403, wantError: "insufficient_scope"},
		{name: "ID token instead of an access token", method: http.MethodGet, token: profile.IDToken, inHeader: true, wantStatus: 401, wantError: "invalid_token"},
		{name: "refresh token instead of an access token", method: http.MethodGet, token: profile.RefreshToken, inHeader: true, wantStatus: 401, wantError: "invalid_token"},
		{name: "revoked access token", method: http.MethodGet, token: revoked.AccessToken, inHeader: true, wantStatus: 401, wantError: "invalid_token"},
		{name: "tampered access token", method: http.MethodGet, token: profile.AccessToken + "x", inHeader: true, wantStatus: 401, wantError: "invalid_token"},
		{name: "no token", method: http.MethodGet, wantStatus: 401},
		{name: "Basic credentials", method: http.MethodGet, extra: basicAuth("spa", "x"), wantStatus: 401},
		{name: "token in the body of a GET is ignored", method: http.MethodGet, token: bare.AccessToken, inBody: true, wantStatus: 401},
		{name: "header and body at once", method: http.MethodPost, token: bare.AccessToken, inHeader: true, inBody: true, wantStatus: 400, wantError: "invalid_request"},
		{name: "two Authorization headers", method: http.MethodGet, extra: http.Header{"Authorization": {"Bearer " + bare.AccessToken, "Bearer " + bare.AccessToken}}, wantStatus: 400, wantError: "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.userInfo(tc.method, tc.token, tc.inHeader, tc.inBody, tc.extra)
			if a.status != tc.wantStatus {
				t.Fatalf("status %d (%v), want %d", a.status, a.claims, tc.wantStatus)
			}
			if cc := a.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			challenge := a.header.Get("WWW-Authenticate")
			switch {
			case tc.wantStatus == 200 && challenge != "":
				t.Errorf("WWW-Authenticate %q on success", challenge)
			case tc.wantStatus != 200 && !strings.HasPrefix(challenge, "Bearer "):
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge (RFC 6750 §3)", challenge)
			case tc.wantError == "" && strings.Contains(challenge, "error="):
				t.Errorf("WWW-Authenticate %q: a request without a token gets no error code (RFC 6750 §3.1)", challenge)
			case tc.wantError != "" && !strings.Contains(challenge, `error="`+tc.wantError+`"`):
				t.Errorf("WWW-Authenticate %q, want error=%q", challenge, tc.wantError)
			}
			if tc.wantStatus != 200 {
				if _, leaked := a.claims["sub"]; leaked {
					t.Errorf("an error answer carries claims: %v", a.claims)
				}
				return
			}
			if a.claims["sub"] != "alice" {
				t.Errorf("sub %v, want alice", a.claims["sub"])
			}
			for _, k := range tc.want {
				if _, ok := a.claims[k]; !ok {
					t.Errorf("claim %s missing from %v", k, a.claims)
				}
			}
			for _, k := range tc.notWant {
				if v, ok := a.claims[k]; ok {
					t.Errorf("claim %s = %v released, want it left out", k, v)
				}
			}
		})
	}

	t.Run("current values from LookupUser", func(t *testing.T) {
		renamed := "Alice Kingsleigh"
		d.name.Store(&renamed)
		defer func() { first := "Alice Liddell"; d.name.Store(&first) }()
		if a := e.userInfo(http.MethodGet, profile.AccessToken, true, false, nil); a.claims["name"] != renamed {
			t.Fatalf("name %v, want %q from LookupUser", a.claims["name"], renamed)
		}
	})
	t.Run("disabled user", func(t *testing.T) {
		d.disabled.Store(true)
		defer d.disabled.Store(false)
		if a := e.userInfo(http.MethodGet, profile.AccessToken, true, false, nil); a.status != 401 {
			t.Fatalf("status %d, want 401 for a user who is gone", a.status)
		}
	})
	t.Run("expired access token", func(t *testing.T) {
		e.clock.Advance(e.srv.cfg.AccessTokenTTL + time.Minute)
		defer e.clock.Advance(-e.srv.cfg.AccessTokenTTL - time.Minute)
		if a := e.userInfo(http.MethodGet, profile.AccessToken, true, false, nil); a.status != 401 {
			t.Fatalf("status %d, want 401", a.status)
		}
	})
}

// TestUserInfoWithoutLookupUser: without LookupUser, the claims are those
// the access token carries, captured at sign-in.
func TestUserInfoWithoutLookupUser(t *testing.T) {
	e := newOIDCEnv(t, &oidcDirectory{}, func(c *Config) { c.LookupUser = nil })
	tok := e.oidcLogin(e.browser(), "openid profile email", "")
	a := e.userInfo(http.MethodGet, tok.AccessToken, true, false, nil)
	if a.status != 200 || a.claims["name"] != "Alice Liddell" || a.claims["email"] != "alice@example.com" || a.claims["email_verified"] != true {
		t.Fatalf("status %d claims %v, want the sign-in's name and email", a.status, a.claims)
	}
	if _, ok := a.claims["role"]; ok {
		t.Errorf("custom claim role released: %v", a.claims)
	}
}

// failingRevocations is a store whose deny-list lookup fails on demand.
type failingRevocations struct {
	store.Store
	fail *atomic.Bool
}

func (f failingRevocations) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	if f.fail.Load() {
		return false, errors.New("database is down")
	}
	return f.Store.AccessTokenRevoked(ctx, jti)
}

// TestUserInfoFailsClosed: when the revocation deny-list cannot be read,
// /userinfo releases nothing (docs/security.md §12).
func TestUserInfoFailsClosed(t *testing.T) {
	fail := &atomic.Bool{}
	e := newOIDCEnv(t, &oidcDirectory{}, func(c *Config) { c.Store = failingRevocations{Store: c.Store, fail: fail} })
	tok := e.oidcLogin(e.browser(), "openid profile", "")
	if a := e.userInfo(http.MethodGet, tok.AccessToken, true, false, nil); a.status != 200 {
		t.Fatalf("store up: status %d", a.status)
	}
	fail.Store(true)
	if a := e.userInfo(http.MethodGet, tok.AccessToken, true, false, nil); a.status == 200 || a.claims["sub"] != nil {
		t.Fatalf("store down: status %d claims %v, want a refusal", a.status, a.claims)
	}
}
