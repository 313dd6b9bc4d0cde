package tests

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/testutil"
)

// devSignIn runs the authorization code flow with PKCE against `keystile
// dev` for an app that registered nothing, and returns the verified claims
// of the access token.
func devSignIn(t *testing.T, ctx context.Context, issuer, clientID, redirect string) keystile.Claims {
	t.Helper()
	cfg := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"openid", "tasks:read"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	b := newBrowserFor(t, issuer, nil)
	p := b.get(ctx, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	q := authResponse(t, p, redirect) // no form: straight back with a code
	if q.Get("state") != "st" || q.Get("iss") != issuer {
		t.Fatalf("authorization response %v", q)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	claims, err := (&site{t: t, issuer: issuer}).verifier(nil).Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("the access token: %v", err)
	}
	if !claims.HasScope("tasks:read") || tok.Extra("id_token") == nil {
		t.Fatalf("the token lacks the scope or the ID token: %v", claims)
	}
	return claims
}

// TestBinaryDev: `keystile dev` signs an app it never heard of in as the
// chosen user without a password, switches user from its page, says what
// it is everywhere, and refuses to listen beyond loopback.
func TestBinaryDev(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	p := startBinary(t, t.TempDir(), "dev", "--listen", "127.0.0.1:0", "--user", "alice", "--claim", "role=admin")
	issuer := p.waitOutput(listeningRe)[1]
	if out := p.stdout.String(); !strings.Contains(out, "DEVELOPMENT SERVER") {
		t.Fatalf("the start does not say it is a development server:\n%s", out)
	}

	claims := devSignIn(t, ctx, issuer, "my-app", "http://127.0.0.1:5173/callback")
	if claims.Subject() != "alice" || claims["role"] != "admin" || claims.ClientID() != "my-app" {
		t.Fatalf("claims %v", claims)
	}
	// Another app on another loopback address.
	devSignIn(t, ctx, issuer, "other-app", "http://localhost:3000/auth/cb")

	// The page says it, and switches the user; a cross-site switch fails.
	b := newBrowserFor(t, issuer, nil)
	page := b.get(ctx, issuer+"/")
	if !strings.Contains(page.body, "DEVELOPMENT SERVER") || !strings.Contains(page.body, "my-app") || page.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("the dev page:\n%s", page.body)
	}
	form := url.Values{"user": {"bob"}, "claims": {"role=viewer\nteam=blue"}}
	if r := b.postForm(ctx, issuer+"/dev/user", form, http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}); r.status != http.StatusForbidden {
		t.Fatalf("cross-site switch: status %d, want 403", r.status)
	}
	if r := b.postForm(ctx, issuer+"/dev/user", url.Values{"user": {"x"}, "claims": {"sub=root"}}, nil); r.status != http.StatusBadRequest {
		t.Fatalf("switch to a registered claim: status %d, want 400", r.status)
	}
	// A repeated field is refused, as everywhere else (RFC 6749 §3.1),
	// rather than resolved by taking the first.
	for name, f := range map[string]url.Values{
		"user twice":   {"user": {"bob", "mallory"}},
		"claims twice": {"user": {"bob"}, "claims": {"role=viewer", "role=admin"}},
	} {
		if r := b.postForm(ctx, issuer+"/dev/user", f, nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, "repeated") {
			t.Fatalf("switch with %s: status %d %q, want 400 naming the repeated field", name, r.status, r.body)
		}
	}
	if page := b.get(ctx, issuer+"/"); !strings.Contains(page.body, `id="user">alice<`) {
		t.Fatalf("a refused switch changed the user:\n%s", page.body)
	}
	// The browser follows the 303 back to the page, which shows bob.
	if r := b.postForm(ctx, issuer+"/dev/user", form, http.Header{"Origin": {issuer}}); r.status != http.StatusOK || !strings.Contains(r.body, `id="user">bob<`) {
		t.Fatalf("switch: status %d\n%s", r.status, r.body)
	}
	claims = devSignIn(t, ctx, issuer, "my-app", "http://127.0.0.1:5173/callback")
	if claims.Subject() != "bob" || claims["role"] != "viewer" || claims["team"] != "blue" {
		t.Fatalf("after the switch: %v", claims)
	}

	// The device flow needs no password either: the page knows the user.
	cli := &oauth2.Config{ClientID: "dev-cli", Endpoint: oauth2.Endpoint{DeviceAuthURL: issuer + "/device_authorization", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	da, err := cli.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	dp := b.get(ctx, da.VerificationURIComplete)
	if strings.Contains(dp.body, `name="password"`) || !strings.Contains(dp.body, "DEVELOPMENT SERVER") {
		t.Fatalf("the device page of keystile dev:\n%s", dp.body)
	}
	f, ok := testutil.ParseForm(dp.body)
	if !ok {
		t.Fatalf("no form:\n%s", dp.body)
	}
	f.Hidden.Set("user_code", da.UserCode)
	f.Hidden.Set("decision", "approve")
	if r := b.postForm(ctx, issuer+"/device", f.Hidden, http.Header{"Origin": {issuer}}); !strings.Contains(r.body, "Device connected") {
		t.Fatalf("approval on keystile dev: %d\n%s", r.status, r.body)
	}
	da.Interval = 1
	tok, err := cli.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("DeviceAccessToken: %v", err)
	}
	if c, err := (&site{t: t, issuer: issuer}).verifier(nil).Verify(ctx, tok.AccessToken); err != nil || c.Subject() != "bob" {
		t.Fatalf("the device's token: %v %v", c, err)
	}

	// A browser app's loopback origin is allowed for its client, so its
	// fetch to /token gets CORS headers.
	r0 := b.postForm(ctx, issuer+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"spa-app"},
		"redirect_uri": {"http://127.0.0.1:5173/"}, "code_verifier": {strings.Repeat("v", 43)}}, http.Header{"Origin": {"http://127.0.0.1:5173"}})
	if r0.header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:5173" || !strings.Contains(r0.body, "invalid_grant") {
		t.Fatalf("a browser app's token request: %d %v\n%s", r0.status, r0.header, r0.body)
	}

	// A redirect URI off loopback is never accepted: an error page that
	// says it is a development server, and no redirect.
	bad := newBrowserFor(t, issuer, nil)
	r := bad.get(ctx, issuer+"/authorize?"+url.Values{"client_id": {"evil"}, "redirect_uri": {"https://evil.example/cb"},
		"response_type": {"code"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}.Encode())
	if r.status != http.StatusBadRequest || r.location() != "" || !strings.Contains(r.body, "DEVELOPMENT SERVER") {
		t.Fatalf("a foreign redirect URI: status %d, Location %q\n%s", r.status, r.location(), r.body)
	}
	p.stop()
}

func TestBinaryDevRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	for _, listen := range []string{"0.0.0.0:0", "[::]:0", ":9000", "192.0.2.1:9000", "example.com:9000"} {
		cmd := exec.Command(binary(t), "dev", "--listen", listen)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errorsAs(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "loopback only") {
			t.Errorf("keystile dev --listen %s: %v\n%s", listen, err, out)
		}
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// TestBinaryLoopbackServersRefuseOtherHosts: keystile dev and the
// quickstart answer only to loopback names. A page whose host name was
// re-pointed at 127.0.0.1 (DNS rebinding) sends its own name as Host, and
// must not switch the development user or reach the server's routes.
func TestBinaryLoopbackServersRefuseOtherHosts(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"dev", "--listen", "127.0.0.1:0"},
		{"--listen", "127.0.0.1:0", "--dir", t.TempDir()},
	} {
		t.Run(args[0], func(t *testing.T) {
			p := startBinary(t, t.TempDir(), args...)
			issuer := p.waitOutput(listeningRe)[1]
			u, err := url.Parse(issuer)
			if err != nil {
				t.Fatal(err)
			}
			_, port, _ := net.SplitHostPort(u.Host)
			send := func(method, host, path string, body string) int {
				t.Helper()
				req, err := http.NewRequest(method, issuer+path, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Host = host
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", "http://"+host)
				resp, err := noRedirectClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for _, host := range []string{"evil.example.com:" + port, "evil.example.com", "127.0.0.2:" + port} {
				for _, path := range []string{"/", "/.well-known/openid-configuration", "/dev/user"} {
					method := http.MethodGet
					if path == "/dev/user" {
						method = http.MethodPost
					}
					if got := send(method, host, path, "user=mallory"); got != http.StatusMisdirectedRequest {
						t.Errorf("%s %s with Host %s: status %d, want 421", method, path, host, got)
					}
				}
			}
			for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port} {
				if got := send(http.MethodGet, host, "/.well-known/openid-configuration", ""); got != http.StatusOK {
					t.Errorf("discovery with Host %s: status %d, want 200", host, got)
				}
			}
			if strings.Contains(p.stderr.String(), "mallory") {
				t.Errorf("a rebound page switched the development user:\n%s", p.stderr)
			}
		})
	}
}
