package keystile

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/password"
	"github.com/keystile/keystile/store/memory"
)

const (
	testPassword     = "correct horse battery staple"
	testClientSecret = "s3cret-of-the-backend-client-0123456789"
	spaRedirect      = "https://spa.example.com/cb"
	backendRedirect  = "https://backend.example.com/cb"
)

// testEnv is a real Server behind a real HTTP listener on loopback.
type testEnv struct {
	t      *testing.T
	srv    *Server
	http   *httptest.Server
	clock  *testutil.Clock
	logs   *testutil.SyncBuffer
	issuer string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvWith(t, nil)
}

// newTestEnvWith is newTestEnv with configure having the last word on the
// Config. The default server signs access tokens with HS256 and ID tokens
// with an RS256 IDTokenKey.
func newTestEnvWith(t *testing.T, configure func(*Config)) *testEnv {
	t.Helper()
	return newTestEnvTLS(t, false, configure)
}

// newTestEnvTLS is newTestEnvWith over https when useTLS is set: an https
// issuer, which turns on Secure and __Host- cookies.
func newTestEnvTLS(t *testing.T, useTLS bool, configure func(*Config)) *testEnv {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	issuer := "http://" + hs.Listener.Addr().String()
	if useTLS {
		issuer = "https://" + hs.Listener.Addr().String()
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key, err := NewSigningKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	clock := testutil.StoppedClock(time.Now())
	logs := &testutil.SyncBuffer{}
	idKey, err := NewSigningKey(sigTestRSA2())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Issuer:     issuer,
		IDTokenKey: idKey,
		Clients: []Client{
			{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect, "http://127.0.0.1/native"}, Scopes: []string{"openid", "profile", "read"}},
			{ID: "backend", SecretHash: password.HashClientSecret(testClientSecret), RedirectURIs: []string{backendRedirect}, PostLogoutRedirectURIs: []string{"https://backend.example.com/bye"}},
			{ID: "svc", SecretHash: password.HashClientSecret(testClientSecret), GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"reports:read", "reports:write"}, Claims: map[string]any{"role": "reporter", "iss": "evil"}},
		},
		Store: memory.New(),
		Keys:  []SigningKey{key},
		ValidateUser: func(ctx context.Context, username, password string) (Identity, error) {
			if username == "alice" && password == testPassword {
				return Identity{Subject: "alice", Claims: map[string]any{"role": "admin", "sub": "mallory", "iss": "evil"}}, nil
			}
			return Identity{}, ErrInvalidCredentials
		},
		LookupUser: func(ctx context.Context, subject string) (Identity, error) {
			if subject == "alice" {
				return Identity{Subject: "alice", Claims: map[string]any{"role": "admin"}}, nil
			}
			return Identity{}, ErrUnknownUser
		},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clock.Now,
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	if useTLS {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	return &testEnv{t: t, srv: srv, http: hs, clock: clock, logs: logs, issuer: issuer}
}

// browser returns an HTTP client with a cookie jar that does not follow
// redirects, so tests see every Location.
func (e *testEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: e.http.Client().Transport, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
}

// authorizeQuery is a valid /authorize request for the spa client.
func authorizeQuery() url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {"spa"},
		"redirect_uri":          {spaRedirect},
		"state":                 {"st & = ü"},
		"scope":                 {"openid read"},
		"code_challenge":        {rfcChallenge},
		"code_challenge_method": {"S256"},
	}
}

// loginForm is what the login page carries.
type loginForm struct{ requestID, csrf string }

func parseLoginForm(t *testing.T, body string) loginForm {
	t.Helper()
	f := testutil.LoginForm(t, body)
	return loginForm{requestID: f.Hidden.Get("request_id"), csrf: f.Hidden.Get("csrf_token")}
}

// hiddenValue is the value of a page's hidden input name, which must be there.
func hiddenValue(t *testing.T, body, name string) string {
	t.Helper()
	f, _ := testutil.ParseForm(body)
	v := f.Hidden.Get(name)
	if v == "" {
		t.Fatalf("no hidden %s in the page:\n%s", name, body)
	}
	return v
}

func (e *testEnv) get(c *http.Client, path string, q url.Values) (*http.Response, string) {
	e.t.Helper()
	resp, err := c.Get(e.issuer + path + "?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(e.t, resp)
}

func (e *testEnv) postForm(c *http.Client, path string, form url.Values, header http.Header) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(e.t, resp)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// login runs /authorize and the login form with q and returns the redirect.
func (e *testEnv) login(c *http.Client, q url.Values) *url.URL {
	e.t.Helper()
	resp, body := e.get(c, "/authorize", q)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("/authorize: status %d: %s", resp.StatusCode, body)
	}
	f := parseLoginForm(e.t, body)
	resp, body = e.postForm(c, "/login", url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {"alice"}, "password": {testPassword}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("/login: status %d, want 303: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	return loc
}

func basicAuth(id, secret string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}}
}

// spaTokens logs in and exchanges the code: an access and a refresh token.
func (e *testEnv) spaTokens() tokenAnswer {
	e.t.Helper()
	a := e.token(exchangeForm(e.spaCode()), nil)
	if a.status != 200 || a.RefreshToken == "" {
		e.t.Fatalf("exchange: %+v", a)
	}
	return a
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}
}

func (e *testEnv) introspect(tok string, header http.Header) (int, map[string]any) {
	e.t.Helper()
	resp, body := e.postForm(http.DefaultClient, "/introspect", url.Values{"token": {tok}}, header)
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	return resp.StatusCode, m
}

func (e *testEnv) revoke(form url.Values, header http.Header) int {
	e.t.Helper()
	resp, _ := e.postForm(http.DefaultClient, "/revoke", form, header)
	return resp.StatusCode
}
