package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/testutil"
)

const alicePassword = "mcp user's password"

// TestMCPWithKeystile runs the real keystile binary as the authorization
// server and this example as the MCP server, and lets the MCP SDK's own
// OAuth client find its way from the first 401: the protected-resource
// metadata its challenge names, the authorization-server metadata, a PKCE
// sign-in with resource=<the MCP endpoint>, the token exchange, and a tool
// call with the audience-bound token. A token Keystile minted for another
// resource is refused.
func TestMCPWithKeystile(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	mcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resource := "http://" + mcpLn.Addr().String() + "/mcp"
	const otherAPI = "https://reports.example.test/api"
	as := startKeystile(t, resource, otherAPI)

	v, err := keystile.NewVerifier(keystile.VerifierConfig{Issuer: as.issuer, JWKSURL: as.issuer + "/.well-known/jwks.json", Resource: resource, ScopesSupported: []string{scopeRead}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(v, resource)
	if err != nil {
		t.Fatal(err)
	}
	mcpSrv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = mcpSrv.Serve(mcpLn) }()
	t.Cleanup(func() { _ = mcpSrv.Close() })

	// Every request the SDK's OAuth client makes, in order.
	rec := &recorder{rt: http.DefaultTransport}
	var authURL string
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient: &oauthex.ClientCredentials{ClientID: "mcp-client"},
		RedirectURL:         "http://127.0.0.1:53682/callback",
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			authURL = args.URL
			return signIn(ctx, args.URL, "alice", alicePassword)
		},
		Client: &http.Client{Transport: rec, Timeout: 30 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "keystile-test-client", Version: "v1.0.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, OAuthHandler: handler}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nrequests: %v", err, rec.urls())
	}
	defer session.Close()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil || res.IsError {
		t.Fatalf("whoami: %v %+v", err, res)
	}
	var who whoamiOut
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &who); err != nil || who.Subject != "alice" || who.ClientID != "mcp-client" || !slices.Equal(who.Scopes, []string{scopeRead}) {
		t.Errorf("whoami answered %s, want alice, mcp-client and [%s]", b, scopeRead)
	}

	// The way the SDK went: the metadata named in the 401, then the
	// authorization server's metadata, then /token.
	want := []string{
		"/.well-known/oauth-protected-resource/mcp",
		"/.well-known/oauth-authorization-server",
		"/token",
	}
	t.Logf("the SDK went: %v", rec.urls())
	if got := rec.paths(); !isSubsequence(want, got) {
		t.Errorf("the SDK's requests %v, want %v in that order", got, want)
	}
	q, _ := url.Parse(authURL)
	if q == nil || q.Query().Get("resource") != resource || q.Query().Get("code_challenge_method") != "S256" {
		t.Errorf("authorization URL %q: want resource=%s and S256", authURL, resource)
	}
	ts, _ := handler.TokenSource(ctx)
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(ctx, tok.AccessToken)
	if err != nil || claims["aud"] != resource {
		t.Errorf("the SDK's token: %v, aud %v, want %s", err, claims["aud"], resource)
	}

	// A token minted for another resource is refused, with a challenge
	// that names this server's metadata.
	other := as.clientCredentials(t, "reports-bot", otherAPI)
	for name, tok := range map[string]string{"another resource's token": other, "no token": ""} {
		status, challenge := callMCP(t, resource, tok)
		if status != http.StatusUnauthorized || !strings.Contains(challenge, `resource_metadata="http://`+mcpLn.Addr().String()+`/.well-known/oauth-protected-resource/mcp"`) {
			t.Errorf("%s: %d %q, want 401 naming the metadata", name, status, challenge)
		}
	}
}

// keystileAS is the real keystile binary, serving.
type keystileAS struct {
	issuer, dir, secret string
}

// startKeystile builds and starts keystile with two resources (the MCP
// server and another API), a public MCP client and a service account of
// the other API.
func startKeystile(t *testing.T, mcpResource, otherAPI string) *keystileAS {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "keystile")
	build := exec.Command("go", "build", "-o", bin, "./cmd/keystile")
	build.Dir = filepath.Join("..", "..") // the main module, with its own go.sum
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/keystile: %v\n%s", err, out)
	}
	run := func(stdin string, args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("keystile %v: %v", args, err)
		}
		return string(out)
	}
	hash := strings.TrimSpace(run(alicePassword+"\n", "hash-password"))
	sec := run("", "client-secret")
	secret := regexp.MustCompile(`(?m)^client_secret: (\S+)$`).FindStringSubmatch(sec)
	secretHash := regexp.MustCompile(`(?m)^secret_hash: (\S+)$`).FindStringSubmatch(sec)
	if secret == nil || secretHash == nil {
		t.Fatalf("client-secret printed %q", sec)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	issuer := "http://" + addr
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("users.yaml", fmt.Sprintf("users:\n  - username: alice\n    password_hash: %q\n    claims: {role: writer}\n", hash))
	write("keystile.yaml", fmt.Sprintf(`issuer: %s
listen: %s
store: memory
signing: {algorithm: ES256, key_file: signing.pem}
users_file: users.yaml
resources:
  - id: %s
    scopes: [%s]
  - id: %s
    scopes: [reports:read]
clients:
  - id: mcp-client
    public: true
    redirect_uris: [http://127.0.0.1/callback]
    scopes: [%s]
    resources: [%s]
  - id: reports-bot
    secret_hash: %q
    grant_types: [client_credentials]
    scopes: [reports:read]
    resources: [%s]
`, issuer, addr, mcpResource, scopeRead, otherAPI, scopeRead, mcpResource, secretHash[1], otherAPI))

	cmd := exec.Command(bin, "serve", "--config", filepath.Join(dir, "keystile.yaml"))
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("keystile output:\n%s", out.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "listening on "+issuer); {
		select {
		case err := <-done:
			t.Fatalf("keystile exited: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("keystile did not start:\n%s", out.String())
		}
	}
	return &keystileAS{issuer: issuer, dir: dir, secret: secret[1]}
}

// clientCredentials gets a service account's token for resource.
func (as *keystileAS) clientCredentials(t *testing.T, client, resource string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	req, _ := http.NewRequest(http.MethodPost, as.issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, as.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("client credentials: status %d, %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// signIn is the user at a browser: it opens the authorization URL, fills
// in Keystile's login form and returns what the redirect carries.
func signIn(ctx context.Context, authURL, username, password string) (*auth.AuthorizationResult, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	_, _ = page.ReadFrom(resp.Body)
	resp.Body.Close()
	form, ok := testutil.ParseForm(page.String())
	if resp.StatusCode != http.StatusOK || !ok {
		return nil, fmt.Errorf("/authorize: status %d, no login form (Location %q)", resp.StatusCode, resp.Header.Get("Location"))
	}
	action, err := resp.Request.URL.Parse(form.Action)
	if err != nil {
		return nil, err
	}
	fields := form.Hidden
	fields.Set("username", username)
	fields.Set("password", password)
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", action.Scheme+"://"+action.Host)
	resp, err = c.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("/login: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("error") != "" {
		return nil, errors.New("authorization error: " + q.Get("error") + " " + q.Get("error_description"))
	}
	return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
}

// callMCP posts an MCP initialize request with tok and returns the status
// and the challenge.
func callMCP(t *testing.T, endpoint, tok string) (int, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// recorder is a RoundTripper that remembers the URLs it carried.
type recorder struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	seen []*url.URL
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.URL)
	r.mu.Unlock()
	return r.rt.RoundTrip(req)
}

func (r *recorder) urls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, u := range r.seen {
		out = append(out, u.String())
	}
	return out
}

func (r *recorder) paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, u := range r.seen {
		out = append(out, u.Path)
	}
	return out
}

// isSubsequence reports whether want appears in got in order.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
