package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/password"
	"github.com/keystile/keystile/store/memory"
)

const (
	testRedirect = "https://app.example.test/callback" // never contacted
	testUser     = "alice"
)

// startKeystile runs a real Keystile server on a loopback port, as the
// tests/ package does, with a service account and a public client. The user
// directory does not hash, so the runs measure Keystile, not argon2id. The
// login throttle is off: pkce mode signs in far faster than any person.
func startKeystile(t *testing.T) (issuer, clientSecret, userPassword string) {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	issuer = "http://" + hs.Listener.Addr().String()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatalf("crypto/rand: %v", err)
	}
	key, err := keystile.NewSigningKey(secret)
	if err != nil {
		t.Fatalf("NewSigningKey: %v", err)
	}
	clientSecret, clientHash, err := password.NewClientSecret()
	if err != nil {
		t.Fatalf("NewClientSecret: %v", err)
	}
	userPassword = "load-" + rand.Text()
	srv, err := keystile.New(keystile.Config{
		Issuer: issuer,
		Clients: []keystile.Client{
			{ID: "reports-bot", SecretHash: clientHash, GrantTypes: []string{keystile.GrantClientCredentials}, Scopes: []string{"reports:read"}},
			{ID: "spa", Public: true, RedirectURIs: []string{testRedirect}, Scopes: []string{"api:read"}},
		},
		Store: memory.New(),
		Keys:  []keystile.SigningKey{key},
		ValidateUser: func(_ context.Context, username, pw string) (keystile.Identity, error) {
			if username != testUser || subtle.ConstantTimeCompare([]byte(pw), []byte(userPassword)) != 1 {
				return keystile.Identity{}, keystile.ErrInvalidCredentials
			}
			return keystile.Identity{Subject: "user-alice"}, nil
		},
		Logger: slog.New(slog.DiscardHandler),
		// ValidateUser above does not hash, so pkce mode signs in far faster
		// than any person: lift the per-address caps on login pages and
		// failed attempts, which would otherwise (rightly) answer 429.
		LoginThrottle: keystile.LoginThrottle{Disabled: true},
	})
	if err != nil {
		t.Fatalf("keystile.New: %v", err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return issuer, clientSecret, userPassword
}

// TestLoadAgainstKeystile runs each mode briefly against a real server: every
// request must succeed, the report must have a row per step, and neither
// secret may appear in it.
func TestLoadAgainstKeystile(t *testing.T) {
	issuer, clientSecret, password := startKeystile(t)
	browserFlags := []string{"--client-id", "spa", "--redirect-uri", testRedirect, "--username", testUser}
	tests := []struct {
		name      string
		args      []string
		wantSteps []string
	}{
		{"client-credentials", []string{"--mode", "client-credentials", "--client-id", "reports-bot", "--duration", "1s", "--concurrency", "4"}, []string{"token"}},
		{"pkce", append([]string{"--mode", "pkce", "--duration", "300ms", "--concurrency", "2", "--scope", "api:read"}, browserFlags...), []string{"authorize", "login", "token", "flow"}},
		{"refresh", append([]string{"--mode", "refresh", "--duration", "300ms", "--concurrency", "2"}, browserFlags...), []string{"refresh"}},
		{"verify", []string{"--mode", "verify", "--duration", "300ms", "--concurrency", "2"}, []string{"jwks"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{envPassword: password}
			if tc.name == "client-credentials" {
				env[envClientSecret] = clientSecret
			}
			o, err := parseOptions(append([]string{"--issuer", issuer}, tc.args...), func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatalf("parseOptions: %v", err)
			}
			res, err := load(t.Context(), o)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			var out strings.Builder
			if err := res.print(&out); err != nil {
				t.Fatalf("print: %v", err)
			}
			report := out.String()
			if res.rec.succeeded() == 0 {
				t.Fatalf("no request succeeded:\n%s", report)
			}
			if f := res.rec.failureSummary(); f != "no failure recorded" {
				t.Errorf("requests failed against a healthy server: %s\n%s", f, report)
			}
			for _, step := range tc.wantSteps {
				if _, ok := res.rec.steps[step]; !ok {
					t.Errorf("the report has no %s row:\n%s", step, report)
				}
			}
			for what, s := range map[string]string{"client secret": clientSecret, "password": password} {
				if strings.Contains(report, s) {
					t.Errorf("the report shows the %s:\n%s", what, report)
				}
			}
		})
	}
}

// A wrong client secret is a run of errors, reported by status and OAuth
// error code, and the command fails rather than print a rate of nothing.
func TestLoadReportsRefusals(t *testing.T) {
	issuer, _, _ := startKeystile(t)
	var out strings.Builder
	args := []string{"--issuer", issuer, "--mode", "client-credentials", "--client-id", "reports-bot", "--duration", "200ms"}
	err := run(t.Context(), args, func(k string) string {
		if k == envClientSecret {
			return "not-the-secret"
		}
		return ""
	}, &out, io.Discard)
	if err == nil {
		t.Fatalf("run succeeded with a wrong client secret:\n%s", out.String())
	}
	// The server throttles failed client authentication after a burst:
	// the refusals are 401s, then 429s.
	if !strings.Contains(out.String(), "errors in token: ") || !strings.Contains(out.String(), "401 invalid_client ×") {
		t.Errorf("the report does not count the 401 invalid_client answers:\n%s", out.String())
	}
}

// --iterations N runs exactly N iterations across the workers, however many
// there are: bench/run.sh's burst of sign-ins counts on it.
func TestLoadStopsAfterIterations(t *testing.T) {
	issuer, _, password := startKeystile(t)
	args := []string{"--issuer", issuer, "--mode", "pkce", "--client-id", "spa", "--redirect-uri", testRedirect,
		"--username", testUser, "--scope", "api:read", "--concurrency", "4", "--duration", "1m", "--iterations", "7"}
	o, err := parseOptions(args, func(k string) string { return map[string]string{envPassword: password}[k] }, io.Discard)
	if err != nil {
		t.Fatalf("parseOptions: %v", err)
	}
	res, err := load(t.Context(), o)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if f := res.rec.failureSummary(); f != "no failure recorded" {
		t.Fatalf("requests failed against a healthy server: %s", f)
	}
	if n := len(res.rec.steps["flow"].latencies); n != 7 {
		t.Fatalf("%d sign-ins, want 7", n)
	}
}
