package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/password"
)

// RFC 7636 Appendix B's verifier and its S256 challenge.
const (
	pkceVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	pkceChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	spaCallback   = "https://app.example.com/callback"
)

// reloadConfig is an HS256 server with a public client for browser sign-ins
// and a service account, reading users.yaml. The store is written the way
// an operator would first try: memory, unquoted.
const reloadConfig = `issuer: http://127.0.0.1:9999
store: memory
signing:
  algorithm: HS256
  secret_file: hs256.secret
users_file: users.yaml
clients:
  - id: spa
    public: true
    redirect_uris: [` + spaCallback + `]
  - id: bot
    secret_hash: "sha256:%s"
    grant_types: [client_credentials]
    scopes: [reports:read]
`

// newReloadDir writes reloadConfig, its secret and a users file with alice
// and bob into a new directory and returns the configuration's path.
func newReloadDir(t *testing.T) (dir, config string) {
	t.Helper()
	dir = t.TempDir()
	writeFile(t, dir, "hs256.secret", strongSecret+"\n")
	writeFile(t, dir, "users.yaml", usersYAML(t, false))
	hash := strings.TrimPrefix(password.HashClientSecret("bot-secret"), "sha256:")
	return dir, writeFile(t, dir, "keystile.yaml", fmt.Sprintf(reloadConfig, hash))
}

// usersYAML is a users file with alice (disabled or not) and bob; each
// one's password is their name followed by "-pw".
func usersYAML(t *testing.T, aliceDisabled bool) string {
	t.Helper()
	return fmt.Sprintf(`users:
  - username: alice
    password_hash: %q
    claims: {role: admin}
    disabled: %v
  - username: bob
    password_hash: %q
`, testHash(t, "alice-pw"), aliceDisabled, testHash(t, "bob-pw"))
}

// browser is an HTTP client with its own cookies that shows every redirect
// to the test instead of following it.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

// authorize starts a sign-in for the spa client. It returns the code when
// the browser's session answers at once, or the login page.
func (b *browser) authorize() (code, page string) {
	b.t.Helper()
	q := url.Values{
		"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {spaCallback},
		"state": {"st"}, "code_challenge": {pkceChallenge}, "code_challenge_method": {"S256"},
	}
	resp, err := b.c.Get(b.base + "/authorize?" + q.Encode())
	if err != nil {
		b.t.Fatalf("GET /authorize: %v", err)
	}
	return b.codeOrPage(resp)
}

// signIn runs /authorize and the login form. It returns the code, or ""
// and the page shown instead of a redirect.
func (b *browser) signIn(username, password string) (code, page string) {
	b.t.Helper()
	code, page = b.authorize()
	if code != "" {
		b.t.Fatalf("/authorize answered from a session; want the login form")
	}
	form := testutil.LoginForm(b.t, page).Hidden
	form.Set("username", username)
	form.Set("password", password)
	resp, err := b.c.PostForm(b.base+"/login", form)
	if err != nil {
		b.t.Fatalf("POST /login: %v", err)
	}
	return b.codeOrPage(resp)
}

func (b *browser) codeOrPage(resp *http.Response) (code, page string) {
	b.t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound {
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Query().Get("code") == "" {
			b.t.Fatalf("redirected to %q, want a code", resp.Header.Get("Location"))
		}
		return loc.Query().Get("code"), ""
	}
	return "", string(body)
}

// tokenAnswer is the part of a /token answer the tests look at.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

func token(t *testing.T, base string, form url.Values) tokenAnswer {
	t.Helper()
	resp, err := http.PostForm(base+"/token", form)
	if err != nil {
		t.Fatalf("POST /token: %v", err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("POST /token: decode the answer: %v", err)
	}
	return a
}

// exchange redeems a spa code and returns the tokens.
func exchange(t *testing.T, base, code string) tokenAnswer {
	t.Helper()
	a := token(t, base, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"spa"},
		"redirect_uri": {spaCallback}, "code_verifier": {pkceVerifier}})
	if a.AccessToken == "" || a.RefreshToken == "" {
		t.Fatalf("exchanging a code: %+v", a)
	}
	return a
}

// refresh uses a spa refresh token once.
func refresh(t *testing.T, base, rt string) tokenAnswer {
	t.Helper()
	return token(t, base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}})
}

// hangUp sends SIGHUP to this process, where the servers that start runs
// live, and waits for the reload to log the n-th line containing done.
func hangUp(t *testing.T, s *started, done string, n int) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s.stderr, done, n)
}

// waitFor waits, boundedly, until out holds n lines containing want: the
// reload runs on the signal's goroutine.
func waitFor(t *testing.T, out *testutil.SyncBuffer, want string, n int) {
	t.Helper()
	waitForProcess(t, out, want, n, nil)
}

// waitForProcess is waitFor for a child process, which fails at once when
// the process ends (closes exited) instead.
func waitForProcess(t *testing.T, out *testutil.SyncBuffer, want string, n int, exited <-chan struct{}) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); strings.Count(out.String(), want) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the logs after SIGHUP:\n%s", want, out)
		}
		select {
		case <-exited:
			t.Fatalf("keystile exited after SIGHUP; stderr:\n%s", out)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestHangupReloadsUsersFile: an operator disables alice in the users file
// and sends SIGHUP. Alice's password and refresh token stop working at once;
// bob, signed in before the reload, keeps his session and his tokens.
func TestHangupReloadsUsersFile(t *testing.T) {
	clearKeystileEnv(t)
	dir, config := newReloadDir(t)
	s := start(t, "serve", "--config", config, "--listen", "127.0.0.1:0")

	aliceBrowser, bobBrowser := newBrowser(t, s.base), newBrowser(t, s.base)
	aliceCode, page := aliceBrowser.signIn("alice", "alice-pw")
	if aliceCode == "" {
		t.Fatalf("alice cannot sign in before the reload:\n%s", page)
	}
	alice := exchange(t, s.base, aliceCode)
	bobCode, page := bobBrowser.signIn("bob", "bob-pw")
	if bobCode == "" {
		t.Fatalf("bob cannot sign in before the reload:\n%s", page)
	}
	bob := exchange(t, s.base, bobCode)

	writeFile(t, dir, "users.yaml", usersYAML(t, true))
	hangUp(t, s, "reloaded the users file", 1)

	logs := s.stderr.String()
	if !strings.Contains(logs, `"users":2,"disabled":1,"added":0,"removed":0`) {
		t.Errorf("the reload does not log its counts (2 users, 1 disabled):\n%s", logs)
	}
	for _, hash := range []string{testHash(t, "alice-pw"), testHash(t, "bob-pw")} {
		if strings.Contains(logs, hash) {
			t.Errorf("the logs contain a password hash:\n%s", logs)
		}
	}

	if a := refresh(t, s.base, alice.RefreshToken); a.Error != "invalid_grant" {
		t.Errorf("alice's refresh token after she was disabled: %+v, want invalid_grant", a)
	}
	if code, _ := newBrowser(t, s.base).signIn("alice", "alice-pw"); code != "" {
		t.Error("alice signed in with her password after she was disabled")
	}
	// Her browser session is worthless too.
	if code, _ := aliceBrowser.authorize(); code != "" {
		t.Error("alice's browser session still gets codes after she was disabled")
	}

	if a := refresh(t, s.base, bob.RefreshToken); a.AccessToken == "" {
		t.Errorf("bob's refresh token after the reload: %+v, want new tokens", a)
	}
	if code, _ := bobBrowser.authorize(); code == "" {
		t.Error("bob's browser session was lost by the reload")
	}
	if code, page := newBrowser(t, s.base).signIn("bob", "bob-pw"); code == "" {
		t.Errorf("bob cannot sign in with his password after the reload:\n%s", page)
	}
	if code := s.stop(); code != exitOK {
		t.Errorf("exit code %d, want 0", code)
	}
}

// TestHangupKeepsUsersWhenFileBroken: a users file that is not valid in
// full is not used at all; the server keeps the users it has, says in one
// log line what is wrong, and stays up.
func TestHangupKeepsUsersWhenFileBroken(t *testing.T) {
	clearKeystileEnv(t)
	dir, config := newReloadDir(t)
	s := start(t, "serve", "--config", config, "--listen", "127.0.0.1:0")
	b := newBrowser(t, s.base)
	code, _ := b.signIn("alice", "alice-pw")
	if code == "" {
		t.Fatal("alice cannot sign in before the reload")
	}
	rt := exchange(t, s.base, code).RefreshToken

	const failed = "reloading the users file failed"
	for i, tc := range []struct {
		name  string
		write func() // breaks the users file
		want  string // in the log line
	}{
		{"not YAML", func() { writeFile(t, dir, "users.yaml", "users:\n  - username: alice\n   password_hash: [\n") }, "users.yaml"},
		{"a bad password hash, alice disabled", func() {
			writeFile(t, dir, "users.yaml", strings.Replace(usersYAML(t, true), testHash(t, "bob-pw"), "plaintext-bob-pw", 1))
		}, `users[1] (\"bob\"): password_hash`},
		{"a duplicate user", func() {
			writeFile(t, dir, "users.yaml", usersYAML(t, false)+"  - username: bob\n    password_hash: \""+testHash(t, "x")+"\"\n")
		}, "the username appears more than once"},
		{"an unknown key", func() { writeFile(t, dir, "users.yaml", usersYAML(t, false)+"groups: []\n") }, `unknown key \"groups\"`},
		{"a user whose subject is a client id", func() {
			writeFile(t, dir, "users.yaml", usersYAML(t, true)+"  - username: robot\n    subject: bot\n    password_hash: \""+testHash(t, "x")+"\"\n")
		}, `client id \"bot\" is also the subject of user \"robot\"`},
		{"an empty file", func() { writeFile(t, dir, "users.yaml", "") }, "has no users"},
		{"only the key", func() { writeFile(t, dir, "users.yaml", "users:\n") }, "has no users"},
		{"the file is gone", func() {
			if err := os.Remove(filepath.Join(dir, "users.yaml")); err != nil {
				t.Fatal(err)
			}
		}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.write()
			hangUp(t, s, failed, i+1)
			var line string
			for l := range strings.SplitSeq(s.stderr.String(), "\n") {
				if strings.Contains(l, failed) {
					line = l
				}
			}
			if !strings.Contains(line, tc.want) {
				t.Errorf("the log line %s does not name the problem (%s)", line, tc.want)
			}
			for _, secret := range []string{testHash(t, "alice-pw"), testHash(t, "bob-pw"), "plaintext-bob-pw"} {
				if strings.Contains(line, secret) {
					t.Errorf("the log line quotes a password hash: %s", line)
				}
			}
			// The old users still stand: alice is not disabled, and bob's
			// password still works.
			next := refresh(t, s.base, rt)
			if next.RefreshToken == "" {
				t.Fatalf("alice's refresh token after a broken reload: %+v, want new tokens", next)
			}
			rt = next.RefreshToken
			if code, page := newBrowser(t, s.base).signIn("bob", "bob-pw"); code == "" {
				t.Errorf("bob cannot sign in after a broken reload:\n%s", page)
			}
		})
	}
	if strings.Contains(s.stderr.String(), "reloaded the users file") {
		t.Errorf("a broken users file was reported as reloaded:\n%s", s.stderr)
	}
	if code := s.stop(); code != exitOK {
		t.Errorf("exit code %d, want 0", code)
	}
}

// TestHangupHS256 runs the real binary with an HS256 secret, which has no
// key file to reload, and sends it SIGHUP: it keeps serving, with the same
// secret, and still stops cleanly. (SIGHUP's default action ends a process.)
func TestHangupHS256(t *testing.T) {
	bin := testutil.Keystile(t)
	dir, config := newReloadDir(t)
	cmd := exec.Command(bin, "serve", "--config", config, "--listen", "127.0.0.1:0")
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testutil.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error // cmd.Wait's, once exited is closed
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if base, ok := strings.CutPrefix(sc.Text(), "keystile: listening on "); ok {
				listening <- base
			}
		}
		close(listening)
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	base, ok := <-listening
	if !ok {
		<-exited
		t.Fatalf("keystile exited (%v) before listening; stderr:\n%s", waitErr, stderr)
	}

	bot := func() string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("bot", "bot-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST /token: %v; stderr:\n%s", err, stderr)
		}
		defer resp.Body.Close()
		var a tokenAnswer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.AccessToken == "" {
			t.Fatalf("client credentials: %+v, %v", a, err)
		}
		return a.AccessToken
	}
	before := bot()
	for i := range 2 {
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatalf("SIGHUP: %v", err)
		}
		waitForProcess(t, stderr, "reloaded the users file", i+1, exited)
	}
	after := bot()
	for name, tok := range map[string]string{"before": before, "after": after} {
		_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(strongSecret), nil },
			jwt.WithValidMethods([]string{keystile.AlgHS256}))
		if err != nil {
			t.Errorf("the token issued %s SIGHUP does not verify with the HS256 secret: %v", name, err)
		}
	}
	if !strings.Contains(stderr.String(), "the HS256 secret is not reloaded") {
		t.Errorf("the logs do not say that the HS256 secret stays:\n%s", stderr)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("keystile after SIGHUP then SIGTERM: %v, want exit 0; stderr:\n%s", waitErr, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("keystile did not stop within 30s of SIGTERM")
	}
}
