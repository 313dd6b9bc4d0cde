package tests

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

func binary(t testing.TB) string {
	t.Helper()
	return testutil.Keystile(t)
}

// runBinary runs a short keystile command to completion.
func runBinary(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("keystile %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// newClientSecret runs `keystile client-secret` and returns the secret and
// its secret_hash line.
func newClientSecret(t testing.TB) (secret, hash string) {
	t.Helper()
	out := runBinary(t, "", "client-secret")
	s := regexp.MustCompile(`(?m)^client_secret: (\S+)$`).FindStringSubmatch(out)
	h := regexp.MustCompile(`(?m)^secret_hash: (\S+)$`).FindStringSubmatch(out)
	if s == nil || h == nil {
		t.Fatalf("client-secret printed no client_secret and secret_hash lines:\n%s", out)
	}
	return s[1], h[1]
}

// process is a long-running keystile command.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *testutil.SyncBuffer
	stderr *testutil.SyncBuffer
	done   chan struct{}
	err    error // Wait's result, once done is closed
}

// startBinary starts keystile in dir; the test's cleanup kills it if the
// test did not stop it.
func startBinary(t *testing.T, dir string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	// Only what the binary needs: no KEYSTILE_* variable of the developer's
	// shell can change what is tested.
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	p := &process{t: t, cmd: cmd, stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting keystile %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("keystile stdout:\n%s\nkeystile stderr:\n%s", p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

// waitOutput waits until stdout matches re and returns the submatches.
func (p *process) waitOutput(re *regexp.Regexp) []string {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.stdout.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			p.t.Fatalf("keystile exited (%v) before printing %s", p.err, re)
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.t.Fatalf("keystile did not print %s within 30s", re)
	return nil
}

// stop sends SIGTERM and checks that the process shuts down cleanly.
func (p *process) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("keystile did not exit within 30s of SIGTERM")
	}
	if p.err != nil {
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			p.t.Errorf("keystile exited with code %d after SIGTERM, want 0", ee.ExitCode())
		} else {
			p.t.Errorf("keystile: %v", p.err)
		}
	}
}

var listeningRe = regexp.MustCompile(`keystile: listening on (http://\S+)`)

// freePort finds a loopback port nobody listens on. The binary needs its
// issuer (which contains the port) before it listens, so the port is chosen
// here; the window in which another process could take it is tiny.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("closing: %v", err)
	}
	return addr
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

// TestBinaryServe runs `keystile serve` from a configuration file the way an
// operator would set it up: a users file filled by `keystile hash-password`,
// a client secret from `keystile client-secret`, RS256 with a key file the
// server creates. Then an application signs a user in through x/oauth2.
func TestBinaryServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const password = "operator's p@ssword, with spaces ✓"
	hash := strings.TrimSpace(runBinary(t, password+"\n", "hash-password"))
	if !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("hash-password printed %q, want an argon2id PHC string", hash)
	}
	if strings.Contains(hash, password) {
		t.Fatalf("hash-password printed the password")
	}
	secret, secretHash := newClientSecret(t)

	addr := freePort(t)
	issuer := "http://" + addr
	const appRedirect = "https://app.example.test/callback"
	const backendRedirect = "https://backend.example.test/oauth/callback"
	writeFile(t, filepath.Join(dir, "users.yaml"), fmt.Sprintf(`users:
  - username: alice
    password_hash: %q
    claims: {role: admin, groups: [a, b]}
`, hash))
	writeFile(t, filepath.Join(dir, "keystile.yaml"), fmt.Sprintf(`issuer: %s
listen: %s
store: sqlite:keystile.db
signing:
  algorithm: RS256
  key_file: signing.pem
tokens:
  access_ttl: 10m
  code_ttl: 30s
users_file: users.yaml
clients:
  - id: app
    public: true
    redirect_uris: [%s]
    scopes: [profile]
  - id: backend
    secret_hash: %q
    redirect_uris: [%s]
`, issuer, addr, appRedirect, secretHash, backendRedirect))

	p := startBinary(t, dir, "serve", "--config", filepath.Join(dir, "keystile.yaml"))
	if got := p.waitOutput(listeningRe)[1]; got != issuer {
		t.Fatalf("keystile listens on %s, want %s", got, issuer)
	}
	if _, err := os.Stat(filepath.Join(dir, "signing.pem")); err != nil {
		t.Errorf("the RS256 key file was not created: %v", err)
	}

	ctx := testContext(t)
	verifier, err := keystile.NewVerifier(keystile.VerifierConfig{Issuer: issuer, JWKSURL: issuer + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	var leaks []string // secrets that must not reach the server's output
	leaks = append(leaks, password, secret)
	for _, c := range []struct {
		name string
		conf *oauth2.Config
	}{
		{"public client", &oauth2.Config{ClientID: "app", RedirectURL: appRedirect, Scopes: []string{"profile"},
			Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}},
		{"confidential client", &oauth2.Config{ClientID: "backend", ClientSecret: secret, RedirectURL: backendRedirect,
			Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fl := signInAt(ctx, t, newBrowserFor(t, issuer, nil), issuer, c.conf, "alice", password)
			tok, err := fl.exchange(ctx)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			leaks = append(leaks, fl.code, fl.verifier, tok.AccessToken)
			leaks = append(leaks, fl.browser.cookieValues(issuer)...)
			j := decodeJWT(t, tok.AccessToken)
			if j.header["alg"] != "RS256" || j.header["typ"] != "at+jwt" {
				t.Errorf("token header %v, want RS256 and at+jwt", j.header)
			}
			claims, err := verifier.Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Fatalf("the token does not verify against the JWKS: %v", err)
			}
			if claims.Subject() != "alice" || claims["role"] != "admin" || claims.ClientID() != c.conf.ClientID {
				t.Errorf("claims sub=%q role=%v client_id=%q, want alice, admin, %s", claims.Subject(), claims["role"], claims.ClientID(), c.conf.ClientID)
			}
			if !jsonEqual(claims["groups"], []any{"a", "b"}) {
				t.Errorf("groups claim %v, want [a b] from the users file", claims["groups"])
			}
			exp, _ := j.claims["exp"].(float64)
			iat, _ := j.claims["iat"].(float64)
			if exp-iat != 600 {
				t.Errorf("exp - iat = %vs, want the configured access_ttl 10m", exp-iat)
			}
		})
	}

	// A wrong password is refused by the argon2id check.
	b := newBrowserFor(t, issuer, nil)
	conf := &oauth2.Config{ClientID: "app", RedirectURL: appRedirect,
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token"}}
	form := b.authorize(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	pg := b.submit(ctx, form, "alice", password+"x")
	if _, ok := parseLoginForm(form.action, pg); !ok || pg.location() != "" {
		t.Errorf("a wrong password: %s, want the form again with an error", describe(pg))
	}

	p.stop()
	output := p.stdout.String() + p.stderr.String()
	for _, s := range leaks {
		if s != "" && strings.Contains(output, s) {
			t.Errorf("the server's output contains a secret (%.8s…)", s)
		}
	}
}

// TestBinaryQuickstart starts the quickstart, reads the demo password it
// prints, signs the demo user in with the demo client through x/oauth2, and
// fetches the demo page.
func TestBinaryQuickstart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The quickstart takes its issuer from the address it got, so port 0
	// works and no port has to be guessed free in advance.
	p := startBinary(t, dir, "quickstart", "--listen", "127.0.0.1:0", "--dir", dir)
	issuer := p.waitOutput(listeningRe)[1]
	if !strings.HasPrefix(issuer, "http://127.0.0.1:") || strings.HasSuffix(issuer, ":0") {
		t.Fatalf("the quickstart listens on %s, want http://127.0.0.1:<port>", issuer)
	}
	banner := p.stdout.String()
	if !strings.Contains(banner, "QUICKSTART") || !strings.Contains(banner, "NOT FOR PRODUCTION") {
		t.Errorf("the banner does not say clearly that this is a quickstart:\n%s", banner)
	}
	user := regexp.MustCompile(`username:\s+(\S+)`).FindStringSubmatch(banner)
	password := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(banner)
	if user == nil || password == nil {
		t.Fatalf("the banner shows no username and password:\n%s", banner)
	}

	ctx := testContext(t)
	demo := issuer + "/demo/"
	conf := &oauth2.Config{
		ClientID:    "demo",
		RedirectURL: demo,
		Scopes:      []string{"openid", "profile"},
		Endpoint:    oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	b := newBrowserFor(t, issuer, []string{demo})
	fl := signInAt(ctx, t, b, issuer, conf, user[1], password[1])
	tok, err := fl.exchange(ctx)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if sub := decodeJWT(t, tok.AccessToken).claims["sub"]; sub != user[1] {
		t.Errorf("token sub %v, want the demo user %s", sub, user[1])
	}

	page := b.get(ctx, demo)
	if page.status != http.StatusOK || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /demo/: %s, want the demo page", describe(page))
	}
	if !strings.Contains(strings.ToLower(page.body), "<html") {
		t.Errorf("GET /demo/ is not an HTML page:\n%.300s", page.body)
	}

	p.stop()
	for _, f := range []string{"keystile-quickstart.db", "keystile-quickstart-key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the quickstart keeps no %s in --dir: %v", f, err)
		}
	}
	if strings.Contains(p.stderr.String(), password[1]) {
		t.Errorf("the demo password is in the logs; it belongs in the banner only")
	}
}
