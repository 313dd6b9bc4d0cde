package keystile

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keystile/keystile/internal/testutil"
)

// TestVerifierMiddlewareLogsWhyItRefused: a resource server that refuses a
// token logs why, once per refusal, at a level an operator sees (info and
// up), without the token; the 401 stays generic (issue 8, item 14).
func TestVerifierMiddlewareLogsWhyItRefused(t *testing.T) {
	rs := sigTestRS(t)
	other := keyOf(t)(NewSigningKey(sigTestRSA2()))
	logs := &testutil.SyncBuffer{}
	v, err := NewVerifier(VerifierConfig{
		Issuer: sigTestIssuer, Keys: []SigningKey{rs}, Now: sigTestClock,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()

	cases := []struct {
		name, token string
		reason      *regexp.Regexp // what the log line must say
	}{
		{"wrong audience", sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["aud"] = "https://other-api.example.com" })), regexp.MustCompile(`invalid audience`)},
		{"wrong issuer", sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" })), regexp.MustCompile(`invalid issuer`)},
		{"expired", sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["exp"] = sigTestNow.Add(-time.Hour).Unix() })), regexp.MustCompile(`token is expired`)},
		{"unknown kid", sigTestSign(t, other, sigTestClaims()), regexp.MustCompile(`unknown kid`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := logs.String()
			resp, err := http.DefaultClient.Do(bearerReq(srv.URL, "Bearer "+tc.token))
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "the access token is invalid or expired") || tc.reason.MatchString(body) {
				t.Errorf("status %d body %s, want 401 with the generic description only", resp.StatusCode, body)
			}
			logged := strings.TrimPrefix(logs.String(), before)
			lines := strings.Split(strings.TrimSpace(logged), "\n")
			if logged == "" || len(lines) != 1 {
				t.Fatalf("logged %d lines, want exactly one:\n%s", len(lines), logged)
			}
			if !tc.reason.MatchString(lines[0]) || !regexp.MustCompile(`level=(INFO|WARN)`).MatchString(lines[0]) {
				t.Errorf("log line %q does not give the reason %q at info or warn", lines[0], tc.reason)
			}
			parts := strings.Split(tc.token, ".")
			for _, secret := range []string{tc.token, parts[1], parts[2]} {
				if strings.Contains(logged, secret) {
					t.Fatalf("the log holds the token: %s", logged)
				}
			}
		})
	}

	t.Run("a flood of bad tokens writes a bounded number of lines", func(t *testing.T) {
		before := strings.Count(logs.String(), "\n")
		for range 200 {
			resp, err := http.DefaultClient.Do(bearerReq(srv.URL, "Bearer "+cases[0].token))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		if n := strings.Count(logs.String(), "\n") - before; n > refusalLogBurst {
			t.Fatalf("200 refused tokens wrote %d lines, want at most %d", n, refusalLogBurst)
		}
	})
	t.Run("without a Logger the default logger hears of it", func(t *testing.T) {
		var buf bytes.Buffer
		saved := slog.Default()
		slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
		defer slog.SetDefault(saved)
		v := newTestVerifier(t, rs)
		h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, bearerReq("http://api.example/", "Bearer "+cases[0].token))
		if rec.Code != http.StatusUnauthorized || !strings.Contains(buf.String(), "invalid audience") {
			t.Fatalf("status %d, default log %q", rec.Code, buf.String())
		}
	})
}

// TestREADMEVerifierAudience: the README's NewVerifier example sets the
// audience that the README's configuration reference issues, so that a
// resource server copied from it accepts the tokens (issue 8, item 14).
func TestREADMEVerifierAudience(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	m := regexp.MustCompile(`(?m)^audience:\s*(\S+)`).FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("the README's configuration reference sets no audience")
	}
	issued := m[1]
	example := regexp.MustCompile(`(?s)keystile\.NewVerifier\(keystile\.VerifierConfig\{(.*?)\n\}\)`).FindStringSubmatch(readme)
	if example == nil {
		t.Fatal("the README has no NewVerifier example")
	}
	got := regexp.MustCompile(`Audience:\s*"([^"]*)"`).FindStringSubmatch(example[1])
	if got == nil || got[1] != issued {
		t.Fatalf("the README's NewVerifier example sets Audience %v, but the README's config issues aud %q:\n%s", got, issued, example[0])
	}
}
