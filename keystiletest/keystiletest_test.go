package keystiletest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/keystiletest"
)

// adminAPI is an application's API as in Example: RequireClaim behind a
// JWKS verifier that follows the kit's clock.
func adminAPI(t *testing.T, idp *keystiletest.IdP) *httptest.Server {
	t.Helper()
	v, err := keystile.NewVerifier(keystile.VerifierConfig{Issuer: idp.Issuer(), JWKSURL: idp.JWKSURL(), Now: idp.Now})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := keystile.ClaimsFromContext(r.Context())
		w.Write([]byte(c.Subject()))
	})
	api := httptest.NewServer(v.Middleware(keystile.RequireClaim("role", "admin")(ok)))
	t.Cleanup(api.Close)
	return api
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestExample is Example's code, run.
func TestExample(t *testing.T) {
	idp := keystiletest.New(t)
	api := adminAPI(t, idp)
	if got := get(t, api.URL, idp.MintAccessToken("alice", map[string]any{"role": "admin"})); got != http.StatusOK {
		t.Fatalf("admin token: status %d, want 200", got)
	}
	if got := get(t, api.URL, idp.MintAccessToken("bob", map[string]any{"role": "viewer"})); got != http.StatusForbidden {
		t.Fatalf("viewer token: status %d, want 403", got)
	}
}

func TestMintedTokenExpiresWithAdvance(t *testing.T) {
	idp := keystiletest.New(t, keystiletest.WithAccessTokenTTL(5*time.Minute))
	api := adminAPI(t, idp)
	tok := idp.MintAccessToken("alice", map[string]any{"role": "admin", "iss": "https://evil.example"})
	if got := get(t, api.URL, tok); got != http.StatusOK {
		t.Fatalf("fresh token: status %d, want 200", got)
	}
	idp.Advance(6 * time.Minute)
	if got := get(t, api.URL, tok); got != http.StatusUnauthorized {
		t.Fatalf("expired token: status %d, want 401", got)
	}
}

func TestSignInThroughTheLoginForm(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			idp := keystiletest.New(t, keystiletest.WithAlgorithm(alg),
				keystiletest.WithUser(keystiletest.User{Username: "alice", Claims: map[string]any{"role": "admin", "email": "alice@example.test"}}))
			ctx := t.Context()
			cfg := &oauth2.Config{ClientID: keystiletest.ClientID, RedirectURL: "http://127.0.0.1:43210/callback",
				Endpoint: idp.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "offline_access"}}
			tok, err := idp.SignIn(ctx, cfg, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if get(t, adminAPI(t, idp).URL, tok.AccessToken) != http.StatusOK {
				t.Fatal("the signed-in token was refused")
			}
			provider, err := oidc.NewProvider(ctx, idp.Issuer())
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw)
			if err != nil || idt.Subject != "alice" {
				t.Fatalf("id token: %v, %v", idt, err)
			}
			// The refresh token works after the access token expired.
			idp.Advance(16 * time.Minute)
			tok.Expiry = time.Now().Add(-time.Minute) // oauth2 judges expiry by the real clock
			next, err := cfg.TokenSource(ctx, tok).Token()
			if err != nil || next.AccessToken == tok.AccessToken {
				t.Fatalf("refresh: %v", err)
			}
		})
	}
}

func TestSignInRefusals(t *testing.T) {
	idp := keystiletest.New(t, keystiletest.WithUser(keystiletest.User{Username: "bob", Password: "right"}))
	ctx := context.Background()
	for name, tc := range map[string]struct {
		cfg  oauth2.Config
		user string
		want string
	}{
		"unknown user":     {user: "mallory", want: "no user"},
		"bad scope":        {cfg: oauth2.Config{Scopes: []string{"admin"}}, user: "alice", want: "invalid_scope"},
		"unknown client":   {cfg: oauth2.Config{ClientID: "nope"}, user: "alice", want: "no login form"},
		"foreign redirect": {cfg: oauth2.Config{RedirectURL: "https://evil.example/cb"}, user: "alice", want: "no login form"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := idp.SignIn(ctx, &tc.cfg, tc.user)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := idp.SignIn(ctx, &oauth2.Config{}, "bob"); err != nil {
		t.Fatalf("bob with his own password: %v", err)
	}
}

func TestHS256AndUnknownAlgorithm(t *testing.T) {
	idp := keystiletest.New(t, keystiletest.WithAlgorithm("HS256"))
	resp, err := http.Get(idp.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct{ Keys []any }
	json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	if len(jwks.Keys) != 0 {
		t.Fatalf("an HS256 server published %d keys", len(jwks.Keys))
	}
	if tok := idp.MintAccessToken("alice", nil); strings.Count(tok, ".") != 2 {
		t.Fatalf("not a JWT: %q", tok)
	}
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		keystiletest.New(ft, keystiletest.WithAlgorithm("none"))
	}()
	if !strings.Contains(ft.msg, "unknown algorithm") {
		t.Fatalf("WithAlgorithm(none): %q", ft.msg)
	}
}

// fatalRecorder records a Fatalf instead of failing the test, to check the
// kit's own set-up errors.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

func TestDeviceFlow(t *testing.T) {
	idp := keystiletest.New(t)
	ctx := t.Context()
	cfg := &oauth2.Config{ClientID: keystiletest.ClientID, Endpoint: idp.Endpoint()}
	for _, tc := range []struct {
		decide func(ctx context.Context, code, user string) error
		want   string
	}{{idp.ApproveDevice, ""}, {idp.DenyDevice, "access_denied"}} {
		da, err := cfg.DeviceAuth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.decide(ctx, da.UserCode, "alice"); err != nil {
			t.Fatal(err)
		}
		da.Interval = 1
		tok, err := cfg.DeviceAccessToken(ctx, da)
		switch {
		case tc.want == "" && (err != nil || tok.AccessToken == ""):
			t.Fatalf("approved: %v", err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Fatalf("denied: %v, want %s", err, tc.want)
		}
	}
	if err := idp.ApproveDevice(ctx, "BCDF-GHJK", "alice"); err == nil {
		t.Fatal("a code nobody issued was approved")
	}
}
