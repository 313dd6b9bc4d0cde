package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile/internal/testutil"
)

// deviceSite is `keystile serve` with a public client allowed the device
// grant ("cli"), a second public one ("cli2") and a confidential one
// ("tv", whose secret is secret) allowed it too, and a confidential one
// that is not ("backend", with the same secret).
type deviceSite struct {
	issuer    string
	secret    string
	passwords map[string]string
	proc      *process
}

func startDeviceSite(t *testing.T, deviceTTL string) *deviceSite {
	t.Helper()
	dir := t.TempDir()
	s := &deviceSite{passwords: map[string]string{"alice": "alice's p@ss phrase ✓", "bob": "bob-Pass-123"}}
	addr := freePort(t)
	s.issuer = "http://" + addr
	var users strings.Builder
	users.WriteString("users:\n")
	for _, u := range []string{"alice", "bob"} {
		fmt.Fprintf(&users, "  - username: %s\n    password_hash: %q\n    claims: {role: admin}\n", u, sitePasswordHash(t, s.passwords[u]))
	}
	writeFile(t, filepath.Join(dir, "users.yaml"), users.String())
	secret, secretHash := newClientSecret(t)
	s.secret = secret
	writeFile(t, filepath.Join(dir, "keystile.yaml"), fmt.Sprintf(`issuer: %s
listen: %s
store: sqlite:keystile.db
signing:
  algorithm: ES256
  key_file: signing.pem
tokens:
  device_code_ttl: %s
users_file: users.yaml
clients:
  - id: cli
    name: The CLI
    public: true
    grant_types: [urn:ietf:params:oauth:grant-type:device_code, refresh_token]
    scopes: [openid, profile, offline_access]
  - id: cli2
    public: true
    grant_types: [urn:ietf:params:oauth:grant-type:device_code]
    scopes: [openid, profile]
  - id: tv
    secret_hash: %[4]q
    grant_types: [urn:ietf:params:oauth:grant-type:device_code]
    scopes: [openid, profile]
  - id: backend
    secret_hash: %[4]q
    redirect_uris: [https://backend.example.test/cb]
`, s.issuer, addr, deviceTTL, secretHash))
	s.proc = startBinary(t, dir, "serve", "--config", filepath.Join(dir, "keystile.yaml"))
	s.proc.waitOutput(listeningRe)
	return s
}

func (s *deviceSite) config() *oauth2.Config {
	return &oauth2.Config{
		ClientID: "cli",
		Scopes:   []string{"openid", "profile", "offline_access"},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: s.issuer + "/device_authorization", TokenURL: s.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
}

// poll sends one raw device-grant poll and returns the status and the
// error code of the answer ("" for a token).
func (s *deviceSite) poll(t *testing.T, ctx context.Context, deviceCode string) (int, string) {
	t.Helper()
	return s.pollAs(t, ctx, url.Values{"device_code": {deviceCode}, "client_id": {"cli"}}, nil)
}

// pollAs is poll with the client's own parameters (and header): form
// holds the device_code and how the client authenticates.
func (s *deviceSite) pollAs(t *testing.T, ctx context.Context, form url.Values, header http.Header) (int, string) {
	t.Helper()
	b := newBrowserFor(t, s.issuer, nil)
	form.Set("grant_type", "urn:ietf:params:oauth:grant-type:device_code")
	p := b.postForm(ctx, s.issuer+"/token", form, header)
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("poll: Cache-Control %q, want no-store", cc)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(p.body), &body); err != nil {
		t.Fatalf("poll: not JSON: %q", p.body)
	}
	return p.status, body.Error
}

// devicePage opens /device in b and posts the form: the user code, the
// credentials when the page asks for them, and the decision ("" only looks
// the code up). It returns the resulting page.
func (s *deviceSite) devicePage(t *testing.T, ctx context.Context, b *browser, userCode, user, decision string) page {
	t.Helper()
	p := b.get(ctx, s.issuer+"/device?user_code="+url.QueryEscape(userCode))
	if p.status != http.StatusOK {
		t.Fatalf("GET /device: status %d", p.status)
	}
	checkPageHeaders(t, "GET /device", p)
	f, ok := testutil.ParseForm(p.body)
	if !ok || f.Hidden.Get("csrf_token") == "" || f.Action != "device" {
		t.Fatalf("GET /device: no form with a csrf_token posting to device:\n%s", p.body)
	}
	form := f.Hidden
	form.Set("user_code", userCode)
	if strings.Contains(p.body, `name="password"`) {
		form.Set("username", user)
		form.Set("password", s.passwords[user])
	}
	if decision != "" {
		form.Set("decision", decision)
	}
	p = b.postForm(ctx, s.issuer+"/device", form, http.Header{"Origin": {s.issuer}})
	checkPageHeaders(t, "POST /device", p)
	return p
}

// checkPageHeaders: /device is served like the login form
// (docs/security.md §6).
func checkPageHeaders(t *testing.T, what string, p page) {
	t.Helper()
	h := p.header
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: CSP %q lacks frame-ancestors 'none'", what, csp)
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("%s: headers %v", what, h)
	}
}

// TestBinaryDeviceFlow: a command-line tool signs alice in with
// golang.org/x/oauth2's DeviceAuth and DeviceAccessToken against `keystile
// serve`, through every answer RFC 8628 §3.5 names.
func TestBinaryDeviceFlow(t *testing.T) {
	t.Parallel()
	s := startDeviceSite(t, "10m")
	ctx := testContext(t)
	cfg := s.config()

	var meta map[string]any
	p := newBrowserFor(t, s.issuer, nil).get(ctx, s.issuer+"/.well-known/oauth-authorization-server")
	if err := json.Unmarshal([]byte(p.body), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["device_authorization_endpoint"] != s.issuer+"/device_authorization" || !strings.Contains(fmt.Sprint(meta["grant_types_supported"]), "urn:ietf:params:oauth:grant-type:device_code") {
		t.Fatalf("metadata does not advertise the device grant: %v", meta)
	}

	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if !regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(da.UserCode) ||
		da.VerificationURI != s.issuer+"/device" || da.VerificationURIComplete != s.issuer+"/device?user_code="+da.UserCode || da.Interval != 5 {
		t.Fatalf("DeviceAuth answered %+v", da)
	}

	// Before the user acts: pending, then too fast.
	if status, code := s.poll(t, ctx, da.DeviceCode); status != http.StatusBadRequest || code != "authorization_pending" {
		t.Fatalf("first poll: %d %q, want 400 authorization_pending", status, code)
	}
	if status, code := s.poll(t, ctx, da.DeviceCode); status != http.StatusBadRequest || code != "slow_down" {
		t.Fatalf("immediate second poll: %d %q, want 400 slow_down", status, code)
	}

	// alice opens the page, signs in, checks the code, approves. The code
	// typed in lower case without the dash is the same code.
	b := newBrowserFor(t, s.issuer, nil)
	typed := strings.ToLower(strings.ReplaceAll(da.UserCode, "-", ""))
	p = s.devicePage(t, ctx, b, typed, "alice", "")
	if !strings.Contains(p.body, "The CLI") || !strings.Contains(p.body, da.UserCode) || !strings.Contains(p.body, `value="approve"`) {
		t.Fatalf("the confirmation step does not name the client and the code:\n%s", p.body)
	}
	p = s.devicePage(t, ctx, b, da.UserCode, "alice", "approve")
	if !strings.Contains(p.body, "Device connected") {
		t.Fatalf("approval: status %d\n%s", p.status, p.body)
	}
	// A decided code cannot be decided again.
	if p = s.devicePage(t, ctx, b, da.UserCode, "alice", "deny"); !strings.Contains(p.body, "not valid or has expired") {
		t.Fatalf("second decision: status %d\n%s", p.status, p.body)
	}

	da.Interval = 1 // the client may poll more slowly than told, never faster: 1 s only waits less here
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("DeviceAccessToken: %v", err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Fatalf("the device got no refresh token or ID token: %+v", tok)
	}
	v := (&site{t: t, issuer: s.issuer}).verifier(nil)
	claims, err := v.Verify(ctx, tok.AccessToken)
	if err != nil || claims.Subject() != "alice" || claims["role"] != "admin" || claims.ClientID() != "cli" {
		t.Fatalf("the access token: %v, %v", claims, err)
	}
	if next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil || next.AccessToken == "" {
		t.Fatalf("refresh: %v", err)
	}

	// Redeemed once.
	if status, code := s.poll(t, ctx, da.DeviceCode); status != http.StatusBadRequest || code != "invalid_grant" {
		t.Fatalf("poll after redemption: %d %q, want 400 invalid_grant", status, code)
	}

	// A denial reaches the device as access_denied; alice's session carries
	// her to the confirmation without the password.
	da2, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if p = s.devicePage(t, ctx, b, da2.UserCode, "alice", "deny"); !strings.Contains(p.body, "Device not connected") {
		t.Fatalf("denial: status %d\n%s", p.status, p.body)
	}
	da2.Interval = 1
	_, err = cfg.DeviceAccessToken(ctx, da2)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "access_denied" {
		t.Fatalf("DeviceAccessToken after a denial: %v, want access_denied", err)
	}

	// A client not allowed the grant, and garbage.
	backend := &oauth2.Config{ClientID: "backend", ClientSecret: "wrong", Endpoint: cfg.Endpoint}
	if _, err := backend.DeviceAuth(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("DeviceAuth by a client with a wrong secret: %v", err)
	}
	// No resource is configured: asking for one (RFC 8707) is refused,
	// never answered with a token for another audience.
	if _, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("resource", "https://api.example.com")); !errors.As(err, &re) || re.ErrorCode != "invalid_target" {
		t.Fatalf("DeviceAuth with a resource: %v, want invalid_target", err)
	}
	if status, code := s.poll(t, ctx, "not-a-device-code"); status != http.StatusBadRequest || code != "invalid_grant" {
		t.Fatalf("poll of garbage: %d %q", status, code)
	}
	if status, code := s.poll(t, ctx, strings.Repeat("x", 10000)); status != http.StatusBadRequest || code != "invalid_grant" {
		t.Fatalf("poll of an oversized code: %d %q", status, code)
	}

	// Guessing user codes is throttled: bob's wrong codes run out.
	bob := newBrowserFor(t, s.issuer, nil)
	throttled := false
	for i := range 30 {
		p = s.devicePage(t, ctx, bob, fmt.Sprintf("BCDF-GH%c%c", "BCDFGHJKLMNPQRSTVWXZ"[i%20], "BCDFGHJKLMNPQRSTVWXZ"[i/20]), "bob", "")
		if p.status == http.StatusTooManyRequests {
			throttled = true
			break
		}
		if !strings.Contains(p.body, "not valid or has expired") {
			t.Fatalf("wrong code %d: status %d\n%s", i, p.status, p.body)
		}
	}
	if !throttled {
		t.Fatal("30 wrong user codes in a row were never throttled")
	}

	// No device code or user code in the server's logs.
	logs := s.proc.stdout.String() + s.proc.stderr.String()
	for _, secret := range []string{da.DeviceCode, da.UserCode, da2.DeviceCode, da2.UserCode, typed} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain a device or user code:\n%s", logs)
		}
	}
}

// TestBinaryDeviceCodeBoundToClient: a device code is redeemed only by the
// client it was issued to (RFC 8628 §3.4, RFC 6749 §4.1.3's "ensure that
// the code was issued to the authenticated client"). Another client that
// presents it, before or after the user's decision, gets invalid_grant and
// spends nothing: no poll is recorded (so no slow_down for the rightful
// device), and the approval is still there for the rightful client. A
// client that fails authentication gets invalid_client, and also spends
// nothing.
func TestBinaryDeviceCodeBoundToClient(t *testing.T) {
	t.Parallel()
	s := startDeviceSite(t, "10m")
	ctx := testContext(t)
	cfg := s.config()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	tv := basicHeader("tv", s.secret)
	wrongSecret := basicHeader("tv", s.secret+"x")
	others := []struct {
		name   string
		form   url.Values
		header http.Header
		status int
		code   string
	}{
		{"another public client", url.Values{"client_id": {"cli2"}}, nil, http.StatusBadRequest, "invalid_grant"},
		{"another confidential client", url.Values{}, tv, http.StatusBadRequest, "invalid_grant"},
		{"a confidential client with a wrong secret", url.Values{}, wrongSecret, http.StatusUnauthorized, "invalid_client"},
		{"a client not allowed the grant", url.Values{"client_id": {"backend"}, "client_secret": {s.secret}}, nil, http.StatusBadRequest, "unauthorized_client"},
	}
	tryOthers := func(when string) {
		t.Helper()
		for _, o := range others {
			form := url.Values{"device_code": {da.DeviceCode}}
			for k, v := range o.form {
				form[k] = v
			}
			if status, code := s.pollAs(t, ctx, form, o.header); status != o.status || code != o.code {
				t.Errorf("%s, %s: %d %q, want %d %q", when, o.name, status, code, o.status, o.code)
			}
		}
	}

	// Pending: the others' polls are not the device's polls. Had one been
	// recorded, the rightful first poll would be told slow_down.
	tryOthers("pending")
	if status, code := s.poll(t, ctx, da.DeviceCode); status != http.StatusBadRequest || code != "authorization_pending" {
		t.Fatalf("the rightful first poll after the others': %d %q, want 400 authorization_pending", status, code)
	}

	// Approved: the others cannot take the approval away.
	b := newBrowserFor(t, s.issuer, nil)
	s.devicePage(t, ctx, b, da.UserCode, "alice", "")
	if p := s.devicePage(t, ctx, b, da.UserCode, "alice", "approve"); !strings.Contains(p.body, "Device connected") {
		t.Fatalf("approval: status %d\n%s", p.status, p.body)
	}
	tryOthers("approved")
	da.Interval = 1
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("the rightful client, after the others tried its approved code: %v", err)
	}
	claims, err := (&site{t: t, issuer: s.issuer}).verifier(nil).Verify(ctx, tok.AccessToken)
	if err != nil || claims.Subject() != "alice" || claims.ClientID() != "cli" {
		t.Fatalf("the access token: %v, %v", claims, err)
	}
	if status, code := s.poll(t, ctx, da.DeviceCode); status != http.StatusBadRequest || code != "invalid_grant" {
		t.Fatalf("poll after redemption: %d %q, want 400 invalid_grant", status, code)
	}
}

// TestBinaryDeviceCodeExpires: a code the user never entered ends in
// expired_token, also for x/oauth2's DeviceAccessToken.
func TestBinaryDeviceCodeExpires(t *testing.T) {
	t.Parallel()
	s := startDeviceSite(t, "1s")
	ctx := testContext(t)
	cfg := s.config()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	// Wait out the code's second (by the server's clock, which this test
	// cannot move: it is a separate process).
	time.Sleep(time.Until(da.Expiry) + 100*time.Millisecond)
	if status, code := s.poll(t, ctx, da.DeviceCode); status != http.StatusBadRequest || code != "expired_token" {
		t.Fatalf("poll after expiry: %d %q, want 400 expired_token", status, code)
	}
	// x/oauth2 stops at da.Expiry by itself; without it, the server says so.
	da.Expiry, da.Interval = time.Time{}, 1
	_, err = cfg.DeviceAccessToken(ctx, da)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "expired_token" {
		t.Fatalf("DeviceAccessToken after expiry: %v, want expired_token", err)
	}
}

// basicHeader is client_secret_basic's Authorization header (RFC 6749
// §2.3.1: id and secret form-encoded first).
func basicHeader(id, secret string) http.Header {
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return http.Header{"Authorization": r.Header["Authorization"]}
}
