package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keystile/keystile/internal/testutil"
)

// clearKeystileEnv keeps a developer's own KEYSTILE_* variables out of the
// test.
func clearKeystileEnv(t *testing.T) {
	for _, o := range envOverrides {
		t.Setenv(o.name, "")
	}
	t.Setenv(envSigningSecret, "")
	t.Setenv(envKeyEncryptionSecret, "")
	t.Setenv("KEYSTILE_CONFIG", "")
}

// started is a command running in this process, as main runs it.
type started struct {
	base   string               // http://ADDR from the "listening on" line
	stdout *testutil.SyncBuffer // everything before and including that line
	stderr *testutil.SyncBuffer // the logs
	stop   func() int           // cancels the context and returns the exit code
}

// start runs the command and waits for "keystile: listening on http://ADDR".
func start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &started{stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}}
	done := make(chan int, 1)
	go func() {
		code := run(ctx, args, strings.NewReader(""), pw, s.stderr)
		pw.Close()
		done <- code
	}()
	listening := regexp.MustCompile(`^keystile: listening on (http://\S+)$`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			s.stdout.Write([]byte(sc.Text() + "\n"))
			if m := listening.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	s.base = <-found
	s.stop = func() int {
		cancel()
		return <-done
	}
	if s.base == "" {
		t.Fatalf("keystile %v exited with %d before listening; stderr:\n%s", args, s.stop(), s.stderr)
	}
	t.Cleanup(func() { cancel() })
	return s
}

func get(t *testing.T, url string) *http.Response {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestServeUnderIssuerPathAndShutdown(t *testing.T) {
	clearKeystileEnv(t)
	dir := t.TempDir()
	writeFile(t, dir, "hs256.secret", strongSecret+"\n")
	writeFile(t, dir, "users.yaml", "users:\n  - username: alice\n    password_hash: \""+testHash(t, "pw")+"\"\n")
	config := writeFile(t, dir, "keystile.yaml", `issuer: http://127.0.0.1:9999/auth
store: "memory:"
signing:
  algorithm: HS256
  secret_file: hs256.secret
users_file: users.yaml
clients:
  - id: spa
    public: true
    redirect_uris: [https://app.example.com/callback]
`)
	s := start(t, "serve", "--config", config, "--listen", "127.0.0.1:0")

	resp := get(t, s.base+"/auth/.well-known/oauth-authorization-server")
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metadata: status %d, %v", resp.StatusCode, err)
	}
	if meta.Issuer != "http://127.0.0.1:9999/auth" || meta.TokenEndpoint != "http://127.0.0.1:9999/auth/token" {
		t.Errorf("metadata issuer %q, token endpoint %q; want them under the configured issuer", meta.Issuer, meta.TokenEndpoint)
	}
	if resp := get(t, s.base+"/.well-known/oauth-authorization-server"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("metadata outside the issuer path: status %d, want 404", resp.StatusCode)
	}
	get(t, s.base+"/auth/authorize?client_id=spa&state=query-value-never-logged")

	if code := s.stop(); code != exitOK {
		t.Errorf("exit code after SIGTERM-like cancel = %d, want 0; stderr:\n%s", code, s.stderr)
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, `"path":"/auth/authorize"`) || !strings.Contains(logs, `"status":`) {
		t.Errorf("the access log lacks the /auth/authorize request:\n%s", logs)
	}
	for _, secret := range []string{"query-value-never-logged", strongSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no graceful stop in the logs:\n%s", logs)
	}
}

func TestQuickstart(t *testing.T) {
	clearKeystileEnv(t)
	dir := t.TempDir()
	s := start(t, "quickstart", "--listen", "127.0.0.1:0", "--dir", dir)

	banner := s.stdout.String()
	m := regexp.MustCompile(`(?m)^\s+password:\s+(\S+)$`).FindStringSubmatch(banner)
	if m == nil || !strings.Contains(banner, "QUICKSTART") || !strings.Contains(banner, "NOT FOR PRODUCTION") ||
		!strings.Contains(banner, s.base+"/demo/") || !strings.Contains(banner, "keystile serve --config") {
		t.Fatalf("banner lacks the quickstart warning, the demo URL, the password or the way to serve:\n%s", banner)
	}
	password := m[1]

	resp := get(t, s.base+"/demo/")
	body, _ := io.ReadAll(resp.Body)
	h := resp.Header
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<") {
		t.Errorf("GET /demo/: status %d", resp.StatusCode)
	}
	if got := h.Get("Content-Security-Policy"); got != demoCSP {
		t.Errorf("demo CSP = %q, want %q", got, demoCSP)
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("demo Cache-Control = %q, want no-store", got)
	}
	if resp := get(t, s.base+"/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/demo/" {
		t.Errorf("GET / = %d to %q, want a redirect to /demo/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := get(t, s.base+"/.well-known/jwks.json"); resp.StatusCode != http.StatusOK {
		t.Errorf("JWKS status %d", resp.StatusCode)
	}

	if code := s.stop(); code != exitOK {
		t.Errorf("exit code = %d, want 0; stderr:\n%s", code, s.stderr)
	}
	for _, f := range []string{quickstartDB, quickstartKey} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("quickstart file %s: %v", f, err)
		}
	}
	if strings.Contains(s.stderr.String(), password) {
		t.Error("the demo password reached the logs")
	}
}
