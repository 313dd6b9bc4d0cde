package tests

// The token lifecycle through the real binary: `keystile serve` on a SQLite
// file, restarted with SIGTERM, reloading its key file on SIGHUP after
// `keystile rotate-key`, and started again with a users file in which a user
// was disabled.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/testutil"
)

const (
	siteRedirect  = "https://app.example.test/callback"
	siteSignedOut = "https://app.example.test/signed-out"
)

// site is one operator's installation: a configuration file, a users file,
// a SQLite store and an RS256 key file in one directory, served on a fixed
// loopback address so that it can be restarted under the same issuer.
type site struct {
	t         *testing.T
	dir       string
	config    string
	addr      string
	issuer    string
	passwords map[string]string // username → password
	hashes    map[string]string // username → argon2id hash
	botSecret string            // the service account's client secret
}

// newSite writes the files an operator would, using the binary's own
// hash-password and client-secret commands.
func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{
		t:         t,
		dir:       t.TempDir(),
		passwords: map[string]string{"alice": "alice's p@ss phrase ✓", "bob": "bob-Pass-123"},
		hashes:    map[string]string{},
	}
	for user, pw := range s.passwords {
		s.hashes[user] = sitePasswordHash(t, pw)
	}
	var secretHash string
	s.botSecret, secretHash = newClientSecret(t)
	s.addr = freePort(t)
	s.issuer = "http://" + s.addr
	s.writeUsers(nil)
	s.config = filepath.Join(s.dir, "keystile.yaml")
	writeFile(t, s.config, fmt.Sprintf(`issuer: %s
listen: %s
store: sqlite:keystile.db
signing:
  algorithm: RS256
  key_file: signing.pem
tokens:
  access_ttl: 5m
  code_ttl: 30s
  session_ttl: 1h
  refresh_idle_ttl: 24h
  refresh_max_ttl: 72h
users_file: users.yaml
%s`, s.issuer, s.addr, siteClients(secretHash)))
	return s
}

// siteClients is the clients section of a site's configuration: the public
// app and the reports-bot service account, whose secret hashes to
// secretHash.
func siteClients(secretHash string) string {
	return fmt.Sprintf(`clients:
  - id: app
    public: true
    redirect_uris: [%s]
    post_logout_redirect_uris: [%s]
    scopes: [profile]
  - id: reports-bot
    secret_hash: %q
    grant_types: [client_credentials]
    scopes: [reports:read]
    claims: {role: reporter}
`, siteRedirect, siteSignedOut, secretHash)
}

// sitePasswordHashes caches `keystile hash-password` per password: every
// site has the same users, and each argon2id run costs 64 MiB and a second
// of a loaded machine.
var sitePasswordHashes = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

func sitePasswordHash(t testing.TB, password string) string {
	t.Helper()
	sitePasswordHashes.Lock()
	defer sitePasswordHashes.Unlock()
	if h, ok := sitePasswordHashes.m[password]; ok {
		return h
	}
	h := strings.TrimSpace(runBinary(t, password+"\n", "hash-password"))
	if !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("hash-password printed %q, want an argon2id PHC string", h)
	}
	sitePasswordHashes.m[password] = h
	return h
}

// writeUsers (re)writes the users file; the users in disabled are marked
// disabled: true.
func (s *site) writeUsers(disabled []string) {
	s.t.Helper()
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range []string{"alice", "bob"} {
		fmt.Fprintf(&b, "  - username: %s\n    password_hash: %q\n    claims: {role: admin}\n", u, s.hashes[u])
		if slices.Contains(disabled, u) {
			b.WriteString("    disabled: true\n")
		}
	}
	writeFile(s.t, filepath.Join(s.dir, "users.yaml"), b.String())
}

// start runs `keystile serve` and waits until it listens on the issuer.
func (s *site) start() *process {
	s.t.Helper()
	p := startBinary(s.t, s.dir, "serve", "--config", s.config)
	if got := p.waitOutput(listeningRe)[1]; got != s.issuer {
		s.t.Fatalf("keystile listens on %s, want %s", got, s.issuer)
	}
	return p
}

func (s *site) oauthConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID:    "app",
		RedirectURL: siteRedirect,
		Scopes:      []string{"profile"},
		Endpoint:    oauth2.Endpoint{AuthURL: s.issuer + "/authorize", TokenURL: s.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
}

// login signs user in with a new browser and redeems the code.
func (s *site) login(ctx context.Context, user string) (*oauth2.Token, *browser) {
	s.t.Helper()
	b := newBrowserFor(s.t, s.issuer, nil)
	fl := signInAt(ctx, s.t, b, s.issuer, s.oauthConfig(), user, s.passwords[user])
	tok, err := fl.exchange(ctx)
	if err != nil {
		s.t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		s.t.Fatalf("the exchange gave no refresh token")
	}
	return tok, b
}

// verifier is a resource server that knows only the JWKS URL. now is its
// clock (nil: real time).
func (s *site) verifier(now func() time.Time) *keystile.Verifier {
	s.t.Helper()
	v, err := keystile.NewVerifier(keystile.VerifierConfig{Issuer: s.issuer, JWKSURL: s.issuer + "/.well-known/jwks.json", Now: now})
	if err != nil {
		s.t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// TestBinaryRestart: stopping `keystile serve` (SIGTERM) and starting it on
// the same SQLite file and key file keeps the refresh tokens and the browser
// sessions working, rotation and reuse detection included; the configured
// lifetimes, service account and post-logout redirect URI all take effect.
func TestBinaryRestart(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := testContext(t)
	conf := s.oauthConfig()
	p := s.start()

	tok, b := s.login(ctx, "alice")
	j := decodeJWT(t, tok.AccessToken)
	kid := j.header["kid"]
	if exp, iat := j.claims["exp"].(float64), j.claims["iat"].(float64); exp-iat != 300 {
		t.Errorf("exp - iat = %vs, want tokens.access_ttl 5m", exp-iat)
	}
	bot := &clientcredentials.Config{ClientID: "reports-bot", ClientSecret: s.botSecret, TokenURL: s.issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader}
	botTok, err := bot.Token(ctx)
	if err != nil {
		t.Fatalf("client credentials for the service account: %v", err)
	}
	claims, err := s.verifier(nil).Verify(ctx, botTok.AccessToken)
	if err != nil {
		t.Fatalf("the service account's token does not verify through the JWKS: %v", err)
	}
	if claims.Subject() != "reports-bot" || claims["role"] != "reporter" || claims["scope"] != "reports:read" || botTok.RefreshToken != "" {
		t.Errorf("service account token: sub=%q role=%v scope=%v refresh=%t; want reports-bot, reporter, reports:read, no refresh token",
			claims.Subject(), claims["role"], claims["scope"], botTok.RefreshToken != "")
	}
	p.stop()

	p = s.start()
	remote := s.verifier(nil)
	// The refresh token issued before the restart works, and rotates.
	rotated, err := refreshWith(ctx, conf, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refreshing after a restart: %v", err)
	}
	if rotated.RefreshToken == "" || rotated.RefreshToken == tok.RefreshToken {
		t.Errorf("the refresh after the restart did not rotate the refresh token")
	}
	if c, err := remote.Verify(ctx, rotated.AccessToken); err != nil || c.Subject() != "alice" {
		t.Errorf("the refreshed access token: sub %q, %v; want alice, verified through the JWKS", c.Subject(), err)
	}
	if got := decodeJWT(t, rotated.AccessToken).header["kid"]; got != kid {
		t.Errorf("kid %v after the restart, want %v: the key file was not reused", got, kid)
	}
	// The browser's session cookie still skips the form.
	got, q := ssoAttempt(ctx, t, b, conf)
	if got != "code" {
		t.Fatalf("after the restart the signed-in browser got %q, want a code without the form", got)
	}
	sso, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(q.Get("verifier")))
	if err != nil {
		t.Fatalf("redeeming the single sign-on code: %v", err)
	}
	// Reuse detection survives the restart: the pre-restart token is a
	// replay and takes its family down.
	replay, err := refreshWith(ctx, conf, tok.RefreshToken)
	wantOAuthError(t, replay, err, "invalid_grant")
	dead, err := refreshWith(ctx, conf, rotated.RefreshToken)
	wantOAuthError(t, dead, err, "invalid_grant")
	p.stop()

	// Sign out after another restart: the session, and the refresh tokens
	// issued in it, end; the browser goes back to the registered address.
	p = s.start()
	f := logoutForm(ctx, t, s.issuer, b, url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {siteSignedOut}})
	out := b.postForm(ctx, f.action, f.fields, nil)
	if out.status != http.StatusSeeOther || out.location() != siteSignedOut {
		t.Fatalf("POST /logout: %s, want 303 to %s", describe(out), siteSignedOut)
	}
	after, err := refreshWith(ctx, conf, sso.RefreshToken)
	wantOAuthError(t, after, err, "invalid_grant")
	if got, _ := ssoAttempt(ctx, t, b, conf); got != "form" {
		t.Errorf("after signing out /authorize answered %q, want the login form", got)
	}
	p.stop()
}

// TestBinaryDisabledUser: an operator marks a user disabled: true in the
// users file. serve reads the users file at start only (SIGHUP reloads the
// key file, not the users), so the operator restarts it; from then on the
// user's refresh tokens and browser session are refused, and so is their
// password, while other users carry on.
func TestBinaryDisabledUser(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := testContext(t)
	conf := s.oauthConfig()
	p := s.start()
	alice, aliceBrowser := s.login(ctx, "alice")
	bob, bobBrowser := s.login(ctx, "bob")
	p.stop()

	s.writeUsers([]string{"alice"})
	p = s.start()
	tok, err := refreshWith(ctx, conf, alice.RefreshToken)
	wantOAuthError(t, tok, err, "invalid_grant")
	if got, _ := ssoAttempt(ctx, t, aliceBrowser, conf); got != "form" {
		t.Errorf("the disabled user's browser session got %q, want the login form", got)
	}
	form := aliceBrowser.authorize(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	pg := aliceBrowser.submit(ctx, form, "alice", s.passwords["alice"])
	if _, ok := parseLoginForm(form.action, pg); !ok || pg.location() != "" {
		t.Errorf("the disabled user's right password: %s, want the form again and no redirect", describe(pg))
	}

	if _, err := refreshWith(ctx, conf, bob.RefreshToken); err != nil {
		t.Errorf("another user's refresh token stopped working: %v", err)
	}
	if got, _ := ssoAttempt(ctx, t, bobBrowser, conf); got != "code" {
		t.Errorf("another user's browser session got %q, want a code without the form", got)
	}
	p.stop()
}

var rotatedKidRe = regexp.MustCompile(`kid (\S+)\.\n`)

// TestBinaryKeyRotation: `keystile rotate-key` then SIGHUP to the running
// server: the JWKS lists both keys, new tokens carry the new kid, a token
// signed before still verifies through the JWKS, and a JWKS verifier that
// was running before the rotation accepts the new kid without a restart.
func TestBinaryKeyRotation(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := testContext(t)
	conf := s.oauthConfig()
	p := s.start()

	oldTok, b := s.login(ctx, "alice")
	oldKid, _ := decodeJWT(t, oldTok.AccessToken).header["kid"].(string)
	clock := &testutil.Clock{}
	before := s.verifier(clock.Now)
	if _, err := before.Verify(ctx, oldTok.AccessToken); err != nil {
		t.Fatalf("the first token does not verify through the JWKS: %v", err)
	}

	out := runBinary(t, "", "rotate-key", "--config", s.config)
	m := rotatedKidRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("rotate-key printed no new kid:\n%s", out)
	}
	newKid := m[1]
	if newKid == oldKid {
		t.Fatalf("rotate-key kept the kid %s", oldKid)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP: %v", err)
	}
	// The reload happens in the background; wait (boundedly) for the JWKS
	// to show it.
	var kids []string
	for deadline := time.Now().Add(20 * time.Second); ; {
		kids = jwksKids(t, s.issuer)
		if slices.Contains(kids, newKid) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.Contains(kids, newKid) || !slices.Contains(kids, oldKid) {
		t.Fatalf("after rotate-key and SIGHUP the JWKS lists %v, want both %s and %s", kids, oldKid, newKid)
	}

	// New tokens (here through single sign-on) carry the new kid.
	got, q := ssoAttempt(ctx, t, b, conf)
	if got != "code" {
		t.Fatalf("single sign-on after the reload: %q", got)
	}
	newTok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(q.Get("verifier")))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if k := decodeJWT(t, newTok.AccessToken).header["kid"]; k != newKid {
		t.Errorf("a token issued after the reload has kid %v, want %s", k, newKid)
	}
	refreshed, err := refreshWith(ctx, conf, oldTok.RefreshToken)
	if err != nil {
		t.Fatalf("refreshing a pre-rotation refresh token: %v", err)
	}
	if k := decodeJWT(t, refreshed.AccessToken).header["kid"]; k != newKid {
		t.Errorf("a refreshed token has kid %v, want %s", k, newKid)
	}

	// A verifier started now, and the one running since before, accept both.
	// The running one refetches the JWKS for an unknown kid at most once per
	// DefaultJWKSRefreshInterval, so its clock moves past that.
	clock.Advance(keystile.DefaultJWKSRefreshInterval + time.Second)
	for _, v := range []struct {
		name string
		v    *keystile.Verifier
	}{{"a new JWKS verifier", s.verifier(nil)}, {"the JWKS verifier running since before the rotation", before}} {
		for _, tok := range []struct{ name, tok string }{{"old key's token", oldTok.AccessToken}, {"new key's token", newTok.AccessToken}, {"refreshed token", refreshed.AccessToken}} {
			if _, err := v.v.Verify(ctx, tok.tok); err != nil {
				t.Errorf("%s refuses the %s: %v", v.name, tok.name, err)
			}
		}
	}
	p.stop()
}
