// Package tests holds Keystile's end-to-end tests: the real server on a real
// loopback port, driven by a cookie-keeping net/http client standing in for
// the browser and by golang.org/x/oauth2 standing in for the application.
// Nothing under test is mocked; the only test doubles are the user directory
// (ValidateUser) and the clock (Config.Now).
package tests

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/password"
	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/memory"
	"github.com/keystile/keystile/store/postgres"
	"github.com/keystile/keystile/store/postgres/postgrestest"
	"github.com/keystile/keystile/store/sqlite"
)

// testTimeout bounds every test: each one drives a handful of loopback
// requests, so a test that runs this long is stuck, not slow.
const testTimeout = 60 * time.Second

// testContext returns a context that ends with the test or after testTimeout.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// Registered redirect URIs. None of them is ever contacted: the browser stops
// at the redirect and reads the authorization response from the Location.
const (
	spaRedirect      = "https://spa.example.test/callback"
	spaOtherRedirect = "https://spa.example.test/other-callback"
	backendRedirect  = "https://backend.example.test/oauth/callback"
	partnerRedirect  = "https://partner.example.test/cb"
)

// registeredRedirects is every redirect URI the test server knows; a Location
// header that starts with none of them (and is not on the issuer) is a bug.
var registeredRedirects = []string{spaRedirect, spaOtherRedirect, backendRedirect, partnerRedirect}

// testUser is one entry of the user directory behind ValidateUser.
type testUser struct {
	password string
	identity keystile.Identity
}

// Hostile custom claims: ValidateUser tries to overwrite registered claims,
// and the access token must keep the server's own values.
var hostileClaims = map[string]any{
	"sub":       "attacker",
	"iss":       "https://evil.example",
	"exp":       float64(4102444800),
	"aud":       "https://evil.example",
	"client_id": "evil-client",
	"scope":     "admin:everything",
	"jti":       "fixed-jti",
	"iat":       float64(1),
	"nbf":       float64(4102444800),
	"auth_time": float64(1),
	"azp":       "evil-client",
	"typ":       "Refresh",
}

func newTestUsers() map[string]testUser {
	alice := map[string]any{"role": "admin", "groups": []any{"a", "b"}}
	for k, v := range hostileClaims {
		alice[k] = v
	}
	return map[string]testUser{
		// The password has spaces, unicode and form-special characters, so
		// that the form encoding is exercised on the way in.
		"alice": {password: "correct horse & battery = staple ✓", identity: keystile.Identity{Subject: "user-alice", Claims: alice}},
		"bob":   {password: "bob-p4ssword!", identity: keystile.Identity{Subject: "user-bob", Claims: map[string]any{"role": "viewer"}}},
	}
}

// validateUser is a ValidateUserFunc over users. It does not hash: the
// benchmarks measure Keystile, not argon2id.
func validateUser(users map[string]testUser) keystile.ValidateUserFunc {
	return func(ctx context.Context, username, password string) (keystile.Identity, error) {
		u, ok := users[username]
		if !ok || subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) != 1 {
			return keystile.Identity{}, keystile.ErrInvalidCredentials
		}
		return u.identity, nil
	}
}

// sharedRSAKey is generated once per run: 2048-bit generation is slow under
// -race and nothing here depends on the key being fresh.
var sharedRSAKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("crypto/rand: %v", err)
	}
	return b
}

// randomToken returns a random string that cannot occur by accident in logs.
func randomToken(t testing.TB, prefix string) string {
	return prefix + base64.RawURLEncoding.EncodeToString(randomBytes(t, 18))
}

// openSQLite opens a fresh SQLite store in a temporary directory; newEnv
// closes it.
func openSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keystile.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	return st
}

// openPostgres opens a PostgreSQL store on a fresh schema of the test
// database (KEYSTILE_TEST_POSTGRES); see postgrestest.URL for when it skips.
func openPostgres(t testing.TB) store.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), postgrestest.URL(t))
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// envOptions choose how a test server is built.
type envOptions struct {
	alg   string                       // "HS256" (default) or "RS256"
	store func(testing.TB) store.Store // default: the memory store
	// loginUnlimited lifts the login throttle, for tests and benchmarks that
	// sign in more often than a person would.
	loginUnlimited bool
	configure      func(*keystile.Config) // last word on the Config
}

// env is one Keystile server listening on a loopback port.
type env struct {
	t          testing.TB
	issuer     string
	server     *keystile.Server
	httpServer *httptest.Server
	clock      *testutil.Clock
	logs       *testutil.SyncBuffer
	users      map[string]testUser
	secrets    map[string]string // client id → client secret
	hs256      []byte            // the HS256 secret, when alg is HS256
	cfg        keystile.Config
}

// newEnv starts a Keystile server. The listener is created first, because the
// issuer (which New needs) is the listener's address.
func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.alg == "" {
		o.alg = "HS256"
	}
	hs := httptest.NewUnstartedServer(nil)
	e := &env{
		t:          t,
		issuer:     "http://" + hs.Listener.Addr().String(),
		httpServer: hs,
		clock:      &testutil.Clock{},
		logs:       &testutil.SyncBuffer{},
		users:      newTestUsers(),
		secrets: map[string]string{
			"backend": randomToken(t, "backend-secret-"),
			"partner": randomToken(t, "partner-secret-"),
		},
	}
	var key keystile.SigningKey
	var err error
	switch o.alg {
	case "HS256":
		e.hs256 = randomBytes(t, 32)
		key, err = keystile.NewSigningKey(e.hs256)
	case "RS256":
		var rk *rsa.PrivateKey
		if rk, err = sharedRSAKey(); err == nil {
			key, err = keystile.NewSigningKey(rk)
		}
	default:
		t.Fatalf("unknown algorithm %q", o.alg)
	}
	if err != nil {
		t.Fatalf("signing key %s: %v", o.alg, err)
	}
	var st store.Store = memory.New()
	if o.store != nil {
		st = o.store(t)
	}
	t.Cleanup(func() { _ = st.Close() })
	e.cfg = keystile.Config{
		Issuer: e.issuer,
		Clients: []keystile.Client{
			// No openid here: keystile.New requires an IDTokenKey for an
			// HS256 server whose clients may ask for openid, and the OpenID
			// Connect tests build their own env (newOIDCEnv in oidc_test.go).
			{ID: "spa", Name: "Test SPA", Public: true, RedirectURIs: []string{spaRedirect, spaOtherRedirect}, Scopes: []string{"profile", "api:read"}},
			{ID: "backend", SecretHash: password.HashClientSecret(e.secrets["backend"]), RedirectURIs: []string{backendRedirect}, Scopes: []string{"api:read"}},
			{ID: "partner", SecretHash: password.HashClientSecret(e.secrets["partner"]), RedirectURIs: []string{partnerRedirect}},
		},
		Store:        st,
		Keys:         []keystile.SigningKey{key},
		ValidateUser: validateUser(e.users),
		Logger:       slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          e.clock.Now,
	}
	if o.loginUnlimited {
		e.cfg.LoginThrottle.Disabled = true
	}
	if o.configure != nil {
		o.configure(&e.cfg)
	}
	e.server, err = keystile.New(e.cfg)
	if err != nil {
		t.Fatalf("keystile.New: %v", err)
	}
	hs.Config.Handler = e.server.Handler()
	// net/http's own complaints (a panic that escaped, a bad request line)
	// go to the same buffer, so the log scan and the panic checks see them.
	hs.Config.ErrorLog = log.New(e.logs, "net/http: ", 0)
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// oauthConfig is the application's side: the real x/oauth2 client.
func (e *env) oauthConfig(clientID string, style oauth2.AuthStyle) *oauth2.Config {
	redirect := map[string]string{"spa": spaRedirect, "backend": backendRedirect, "partner": partnerRedirect}[clientID]
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: e.secrets[clientID],
		RedirectURL:  redirect,
		Scopes:       map[string][]string{"spa": {"profile", "api:read"}, "backend": {"api:read"}}[clientID],
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.issuer + "/authorize",
			TokenURL:  e.issuer + "/token",
			AuthStyle: style,
		},
	}
}

// page is a fully read HTTP answer.
type page struct {
	status int
	header http.Header
	body   string
}

func (p page) location() string { return p.header.Get("Location") }

// browser is a user agent: it keeps cookies and follows redirects on the
// issuer, and stops where the authorization response leaves it.
type browser struct {
	t      testing.TB
	client *http.Client
	jar    *cookiejar.Jar
}

func (e *env) newBrowser() *browser { return newBrowserFor(e.t, e.issuer, nil) }

// newBrowserFor returns a browser that stops at any redirect leaving issuer
// and at any redirect to one of stopAt (which may be on the issuer, like the
// quickstart's demo page).
func newBrowserFor(t testing.TB, issuer string, stopAt []string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("cookie jar: %v", err)
	}
	c := &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			u := req.URL.String()
			if !strings.HasPrefix(u, issuer+"/") {
				return http.ErrUseLastResponse
			}
			for _, s := range stopAt {
				if strings.HasPrefix(u, s) {
					return http.ErrUseLastResponse
				}
			}
			if len(via) > 5 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	return &browser{t: t, client: c, jar: jar}
}

// do sends req and reads the whole answer (bodies are capped at 4 MiB).
func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		b.t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(ctx context.Context, u string) page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	return b.do(req)
}

func (b *browser) postForm(ctx context.Context, u string, form url.Values, header http.Header) page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		req.Header[k] = vs
	}
	return b.do(req)
}

// cookieValues returns the values of every cookie the browser holds for u.
func (b *browser) cookieValues(u string) []string {
	pu, err := url.Parse(u)
	if err != nil {
		b.t.Fatalf("parse %q: %v", u, err)
	}
	var out []string
	for _, c := range b.jar.Cookies(pu) {
		out = append(out, c.Value)
	}
	return out
}

// loginForm is the sign-in form as the browser sees it.
type loginForm struct {
	action string     // absolute URL the form posts to
	fields url.Values // its hidden inputs
	page   page
}

// nonceRe finds per-response CSP nonces, which differ between any two pages.
var nonceRe = regexp.MustCompile(`nonce="[^"]*"`)

// parseLoginForm reads the form out of a page served from pageURL. ok is
// false when the page holds no form with a request_id (an error page).
func parseLoginForm(pageURL string, p page) (loginForm, bool) {
	tf, ok := testutil.ParseForm(p.body)
	if !ok {
		return loginForm{}, false
	}
	base, err := url.Parse(pageURL)
	if err != nil {
		return loginForm{}, false
	}
	action, err := base.Parse(tf.Action)
	if err != nil {
		return loginForm{}, false
	}
	f := loginForm{action: action.String(), fields: tf.Hidden, page: p}
	return f, f.fields.Get("request_id") != ""
}

// authorize opens authURL and returns the login form it shows.
func (b *browser) authorize(ctx context.Context, authURL string) loginForm {
	b.t.Helper()
	p := b.get(ctx, authURL)
	if p.status != http.StatusOK {
		b.t.Fatalf("GET /authorize: status %d, want 200 with the login form (Location %q)\n%s", p.status, p.location(), p.body)
	}
	f, ok := parseLoginForm(authURL, p)
	if !ok {
		b.t.Fatalf("GET /authorize: no login form with request_id in the page:\n%s", p.body)
	}
	if f.fields.Get("csrf_token") == "" {
		b.t.Fatalf("GET /authorize: the login form has no csrf_token:\n%s", p.body)
	}
	return f
}

// submit posts the form with the given credentials, as the browser would.
func (b *browser) submit(ctx context.Context, f loginForm, username, password string) page {
	b.t.Helper()
	v := url.Values{}
	for k, vs := range f.fields {
		v[k] = vs
	}
	v.Set("username", username)
	v.Set("password", password)
	return b.postForm(ctx, f.action, v, nil)
}

// authResponse reads the authorization response from a redirect that must go
// to redirectURI (RFC 6749 §4.1.2).
func authResponse(t testing.TB, p page, redirectURI string) url.Values {
	t.Helper()
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("status %d, want a redirect to %s\n%s", p.status, redirectURI, p.body)
	}
	loc := p.location()
	if !strings.HasPrefix(loc, redirectURI+"?") {
		t.Fatalf("Location %q, want %s?…", loc, redirectURI)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return u.Query()
}

// flow is one authorization a test drove up to the code.
type flow struct {
	conf     *oauth2.Config
	state    string
	verifier string
	code     string
	browser  *browser
}

// trickyState has spaces, unicode and the characters that delimit a query,
// so that any re-encoding bug on the way back shows up.
const trickyState = "state with spaces & = ünïcødé ✓ ?#%+/"

// signIn runs /authorize → login form → redirect for conf as user, and
// checks the authorization response (code, unchanged state, iss).
func (e *env) signIn(ctx context.Context, conf *oauth2.Config, user string) flow {
	e.t.Helper()
	return signInAt(ctx, e.t, e.newBrowser(), e.issuer, conf, user, e.users[user].password)
}

// signInAt is signIn against any issuer, with the given browser and password.
func signInAt(ctx context.Context, t testing.TB, b *browser, issuer string, conf *oauth2.Config, user, password string) flow {
	t.Helper()
	fl := flow{conf: conf, state: trickyState, verifier: oauth2.GenerateVerifier(), browser: b}
	form := fl.browser.authorize(ctx, conf.AuthCodeURL(fl.state, oauth2.S256ChallengeOption(fl.verifier)))
	p := fl.browser.submit(ctx, form, user, password)
	q := authResponse(t, p, conf.RedirectURL)
	if got := q.Get("state"); got != fl.state {
		t.Fatalf("state came back as %q, want %q unchanged", got, fl.state)
	}
	if got := q.Get("iss"); got != issuer {
		t.Fatalf("iss in the authorization response is %q, want the issuer %q (RFC 9207)", got, issuer)
	}
	if q.Get("error") != "" {
		t.Fatalf("authorization response carries error=%q (%s)", q.Get("error"), q.Get("error_description"))
	}
	fl.code = q.Get("code")
	if len(fl.code) < 22 { // 128 bits of base64url
		t.Fatalf("code %q is too short to hold 128 random bits", fl.code)
	}
	return fl
}

// exchange redeems the flow's code with the right verifier.
func (fl flow) exchange(ctx context.Context) (*oauth2.Token, error) {
	return fl.conf.Exchange(ctx, fl.code, oauth2.VerifierOption(fl.verifier))
}

// mustToken runs the whole flow and returns the access token.
func (e *env) mustToken(ctx context.Context, clientID, user string) string {
	e.t.Helper()
	style := oauth2.AuthStyleInHeader
	if clientID == "spa" {
		style = oauth2.AuthStyleInParams
	}
	fl := e.signIn(ctx, e.oauthConfig(clientID, style), user)
	tok, err := fl.exchange(ctx)
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok.AccessToken
}

// oauthErrorCode returns the RFC 6749 §5.2 error code x/oauth2 read from a
// failed token request, and the HTTP status it came with.
func oauthErrorCode(t testing.TB, err error) (string, int) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an *oauth2.RetrieveError", err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	return re.ErrorCode, status
}

// wantOAuthError asserts that a token request failed with code and gave no token.
func wantOAuthError(t testing.TB, tok *oauth2.Token, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got a token (%t), want error %s", tok != nil && tok.AccessToken != "", code)
	}
	if got, status := oauthErrorCode(t, err); got != code {
		t.Fatalf("error code %q (HTTP %d), want %q; error: %v", got, status, code, err)
	}
}

// jwtParts is a decoded (not verified) JWT.
type jwtParts struct {
	header, claims map[string]any
	raw            [3]string
}

func decodeJWT(t testing.TB, tok string) jwtParts {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d parts, want a JWS compact serialization", len(parts))
	}
	var j jwtParts
	copy(j.raw[:], parts)
	for i, dst := range []*map[string]any{&j.header, &j.claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("JWT part %d is not base64url: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("JWT part %d is not JSON: %v", i, err)
		}
	}
	return j
}

// encodeSegment is the base64url JSON of one JWT part.
func encodeSegment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// rawTokenRequest posts form to /token as an application would without a
// library, so that headers can be read.
func (e *env) rawTokenRequest(ctx context.Context, form url.Values, user, pass string) page {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return (&browser{t: e.t, client: &http.Client{Timeout: 30 * time.Second}}).do(req)
}

// jsonError decodes an RFC 6749 §5.2 error body.
func jsonError(t testing.TB, p page) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(p.body), &body); err != nil {
		t.Fatalf("status %d: body is not JSON: %v\n%s", p.status, err, p.body)
	}
	return body.Error
}

// assertNoToken fails if a body carries an access token.
func assertNoToken(t testing.TB, what string, p page) {
	t.Helper()
	if strings.Contains(p.body, "access_token") {
		t.Errorf("%s: the body carries an access_token:\n%s", what, p.body)
	}
}

// assertNoPanic fails if the server logged a panic.
func (e *env) assertNoPanic() {
	e.t.Helper()
	if logs := e.logs.String(); strings.Contains(strings.ToLower(logs), "panic") {
		e.t.Errorf("the server logged a panic:\n%s", logs)
	}
}

func describe(p page) string {
	return fmt.Sprintf("status %d, Location %q, body %.300q", p.status, p.location(), p.body)
}

// errorCode is the OAuth error code of a failed x/oauth2 call, or the error
// text when the server's answer was not an OAuth error.
func errorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return err.Error()
}
