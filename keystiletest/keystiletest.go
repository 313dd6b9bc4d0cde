// Package keystiletest runs a real Keystile authorization server inside a
// test, so that an application's own tests can get real tokens without
// starting anything or keeping secrets:
//
//	idp := keystiletest.New(t)    // on a loopback port, closed when the test ends
//	tok := idp.MintAccessToken("alice", map[string]any{"role": "admin"})
//
// It is the real server (keystile.New with an in-memory store), not a fake:
// discovery, the JWKS, the login form, PKCE and every grant behave as they
// do in production. By default it knows one user, alice, and one public
// client, ClientID, whose redirect URI is RedirectURL on any loopback port
// and which may also use the device flow (ApproveDevice).
package keystiletest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/hook"
	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/store/memory"
)

// The default client: public (no secret), PKCE, and a redirect URI on
// 127.0.0.1 whose port may vary (RFC 8252 §7.3), so an app under test can
// listen wherever it likes.
const (
	ClientID    = "app"
	RedirectURL = "http://127.0.0.1/callback"
)

// DefaultPassword is the password of a User that sets none.
const DefaultPassword = "keystiletest-password"

// User is a user the server knows. Username is also the subject (sub) of
// the user's tokens; Claims are the custom claims put into them.
type User struct {
	Username string
	Password string // default DefaultPassword
	Claims   map[string]any
}

func (u User) password() string {
	if u.Password == "" {
		return DefaultPassword
	}
	return u.Password
}

// IdP is a running Keystile server. Its methods fail the test that created
// it rather than return set-up errors; they are safe for concurrent use.
type IdP struct {
	t     testing.TB
	srv   *keystile.Server
	ts    *httptest.Server
	clock *testutil.Clock
	users map[string]User
}

type settings struct {
	users     []User
	clients   []keystile.Client
	algorithm string
	config    []func(*keystile.Config)
}

// An Option changes the server New starts.
type Option func(*settings)

// WithUser adds a user (or replaces the default alice when Username is
// "alice").
func WithUser(u User) Option { return func(s *settings) { s.users = append(s.users, u) } }

// WithClient registers another client; the default client stays.
func WithClient(c keystile.Client) Option {
	return func(s *settings) { s.clients = append(s.clients, c) }
}

// WithAlgorithm sets the algorithm of the signing key: "ES256" (the
// default), "RS256", "EdDSA" or "HS256". An HS256 server publishes no key
// in its JWKS and issues no ID tokens.
func WithAlgorithm(alg string) Option { return func(s *settings) { s.algorithm = alg } }

// WithAccessTokenTTL sets the lifetime of access tokens (default
// keystile.DefaultAccessTokenTTL).
func WithAccessTokenTTL(d time.Duration) Option {
	return WithConfig(func(c *keystile.Config) { c.AccessTokenTTL = d })
}

// WithConfig edits the keystile.Config before the server starts, for any
// setting without an option of its own (other TTLs, branding, audience).
// Issuer, Store, Keys, ValidateUser and Now are the kit's; changing them
// breaks its methods.
func WithConfig(f func(*keystile.Config)) Option {
	return func(s *settings) { s.config = append(s.config, f) }
}

// New starts a server on a loopback port and stops it when the test ends.
// It fails t if the server cannot start.
func New(t testing.TB, opts ...Option) *IdP {
	t.Helper()
	st := settings{algorithm: "ES256"}
	for _, o := range opts {
		o(&st)
	}
	idp := &IdP{t: t, clock: &testutil.Clock{}, users: map[string]User{"alice": {Username: "alice"}}}
	for _, u := range st.users {
		idp.users[u.Username] = u
	}
	key, err := newKey(st.algorithm)
	if err != nil {
		t.Fatalf("keystiletest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("keystiletest: listening on loopback: %v", err)
	}
	scopes := []string{keystile.ScopeOpenID, "profile", "email", "offline_access"}
	if st.algorithm == "HS256" {
		// ID tokens need a key relying parties can verify from the JWKS.
		scopes = scopes[1:]
	}
	cfg := keystile.Config{
		Issuer: "http://" + ln.Addr().String(),
		Clients: append([]keystile.Client{{
			ID:           ClientID,
			Public:       true,
			GrantTypes:   []string{keystile.GrantAuthorizationCode, keystile.GrantRefreshToken, keystile.GrantDeviceCode},
			RedirectURIs: []string{RedirectURL, "http://[::1]/callback"},
			Scopes:       scopes,
		}}, st.clients...),
		Store:        memory.New(),
		Keys:         []keystile.SigningKey{key},
		ValidateUser: idp.validateUser,
		Now:          idp.clock.Now,
		// A test signs in as often as it likes.
		LoginThrottle: keystile.LoginThrottle{Disabled: true},
		// Quiet: a test's output is the test's. WithConfig can set one.
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, f := range st.config {
		f(&cfg)
	}
	srv, err := keystile.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatalf("keystiletest: %v", err)
	}
	idp.srv = srv
	idp.ts = &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler()}}
	idp.ts.Start()
	t.Cleanup(idp.ts.Close)
	return idp
}

// Issuer is the server's issuer URL, http://127.0.0.1:PORT: the base of its
// discovery document (/.well-known/openid-configuration) and endpoints.
func (idp *IdP) Issuer() string { return idp.srv.Issuer() }

// JWKSURL is where the server publishes its public keys, for a resource
// server's keystile.VerifierConfig.JWKSURL or any JWT library.
func (idp *IdP) JWKSURL() string { return idp.Issuer() + "/.well-known/jwks.json" }

// Endpoint is the server's authorization and token endpoints, for an
// oauth2.Config.
func (idp *IdP) Endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{
		AuthURL:       idp.Issuer() + "/authorize",
		TokenURL:      idp.Issuer() + "/token",
		DeviceAuthURL: idp.Issuer() + "/device_authorization",
		AuthStyle:     oauth2.AuthStyleInParams,
	}
}

// Server is the keystile.Server under the kit, for a test that mounts its
// handler elsewhere or uses its in-process Verifier.
func (idp *IdP) Server() *keystile.Server { return idp.srv }

// MintAccessToken returns a signed access token for subject with the custom
// claims, as the server would issue it to ClientID right now (by its
// clock): iss, aud, exp and the rest are the server's own, and a
// registered claim in claims is dropped. No user needs to exist and no
// sign-in happens. It fails the test if signing fails.
func (idp *IdP) MintAccessToken(subject string, claims map[string]any) string {
	idp.t.Helper()
	tok, err := hook.MintAccessToken(idp.srv, ClientID, subject, claims)
	if err != nil {
		idp.t.Fatalf("keystiletest: minting a token: %v", err)
	}
	return tok
}

// Now is the server's clock. A resource server under test that should
// agree with it about expiry takes it as keystile.VerifierConfig.Now.
func (idp *IdP) Now() time.Time { return idp.clock.Now() }

// Advance moves the server's clock forward by d: codes, access and refresh
// tokens, sessions and device codes expire without the test sleeping. It
// moves only the server's clock; see Now.
func (idp *IdP) Advance(d time.Duration) { idp.clock.Advance(d) }

func newKey(alg string) (keystile.SigningKey, error) {
	var key any
	var err error
	switch alg {
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "HS256":
		secret := make([]byte, 32)
		_, err = rand.Read(secret)
		key = secret
	default:
		return keystile.SigningKey{}, fmt.Errorf("unknown algorithm %q (ES256, RS256, EdDSA or HS256)", alg)
	}
	if err != nil {
		return keystile.SigningKey{}, err
	}
	return keystile.NewSigningKey(key)
}
