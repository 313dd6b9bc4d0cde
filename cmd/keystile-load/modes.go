package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// modeNames lists the modes, in the order the usage shows them.
var modeNames = []string{"client-credentials", "pkce", "refresh", "verify"}

// A worker runs one iteration of its mode and records every request it
// sends in rec. Each worker runs on one goroutine, so it may keep state.
type worker func(ctx context.Context, rec *recorder)

// target is the server under load and the client state the workers share.
type target struct {
	o      options
	tr     http.RoundTripper
	client *http.Client // for requests that need no cookies
}

func newTarget(o options, tr http.RoundTripper) *target {
	return &target{o: o, tr: tr, client: newClient(tr, nil)}
}

// newClient never follows redirects: the authorization response is read from
// the Location header, and the redirect URI is never contacted.
func newClient(tr http.RoundTripper, jar http.CookieJar) *http.Client {
	return &http.Client{
		Transport: tr,
		Jar:       jar,
		Timeout:   requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// newWorker prepares worker i of the run's mode. It runs before the clock
// starts, so the refresh mode's sign-in is not measured.
func (t *target) newWorker(ctx context.Context, i int) (worker, error) {
	var username string
	if len(t.o.usernames) > 0 {
		username = t.o.usernames[i%len(t.o.usernames)]
	}
	switch t.o.mode {
	case "client-credentials":
		return t.clientCredentials, nil
	case "pkce":
		return func(ctx context.Context, rec *recorder) { t.pkce(ctx, rec, username) }, nil
	case "refresh":
		return t.newRefreshWorker(ctx, username)
	case "verify":
		return t.jwks, nil
	}
	return nil, fmt.Errorf("unknown mode %q", t.o.mode)
}

// clientCredentials is one client credentials grant (RFC 6749 §4.4), the
// client authenticated with client_secret_basic.
func (t *target) clientCredentials(ctx context.Context, rec *recorder) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if t.o.scope != "" {
		form.Set("scope", t.o.scope)
	}
	t.token(ctx, rec, "token", form)
}

// pkce is one whole sign-in in a new browser (no cookies, so no single
// sign-on): GET /authorize, POST the login form, read the code from the 303,
// redeem it at /token. "flow" records the three together.
func (t *target) pkce(ctx context.Context, rec *recorder, username string) {
	start := time.Now()
	if _, ok := t.signIn(ctx, rec, username); ok {
		rec.add("flow", time.Since(start), "")
	}
}

// newRefreshWorker signs in once and returns a worker that rotates the
// refresh token on every iteration (RFC 6749 §6; Keystile rotates on every
// use, RFC 9700 §4.14.2). If the chain breaks, the worker signs in again,
// and that sign-in is measured like the pkce mode's.
func (t *target) newRefreshWorker(ctx context.Context, username string) (worker, error) {
	setup := newRecorder()
	tok, ok := t.signIn(ctx, setup, username)
	if !ok {
		return nil, fmt.Errorf("signing in as %s: %s", username, setup.failureSummary())
	}
	if tok.RefreshToken == "" {
		return nil, errors.New("the token response has no refresh_token: the client needs the refresh_token grant, and --scope must ask for offline_access if the client lists it")
	}
	current := tok.RefreshToken
	return func(ctx context.Context, rec *recorder) {
		if current == "" {
			start := time.Now()
			if tok, ok := t.signIn(ctx, rec, username); ok {
				rec.add("flow", time.Since(start), "")
				current = tok.RefreshToken
			}
			return
		}
		next, ok := t.token(ctx, rec, "refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {current}})
		current = ""
		if ok {
			current = next.RefreshToken
		}
	}, nil
}

// jwks fetches the JWKS document: no store, no signing, no password, so it
// is the floor that net/http, chi and the middleware set for every request.
func (t *target) jwks(ctx context.Context, rec *recorder) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.o.issuer+"/.well-known/jwks.json", nil)
	if err != nil {
		rec.add("jwks", 0, "request: "+err.Error())
		return
	}
	t.exchange(ctx, rec, "jwks", t.client, req, http.StatusOK, func(_ *http.Response, body []byte) error {
		// With HS256 alone the set is empty: a shared secret is never published.
		var doc struct {
			Keys *[]json.RawMessage `json:"keys"`
		}
		if json.Unmarshal(body, &doc) != nil || doc.Keys == nil {
			return errors.New("not a JWK set")
		}
		return nil
	})
}

// tokenResponse is the part of RFC 6749 §5.1 the workers use.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// token posts form to the token endpoint (--token-path, /token by default)
// and records it under step. A client with a
// secret authenticates with client_secret_basic, its id and secret
// form-encoded first (RFC 6749 §2.3.1); a public client sends client_id.
func (t *target) token(ctx context.Context, rec *recorder, step string, form url.Values) (tokenResponse, bool) {
	if t.o.clientSecret == "" {
		form.Set("client_id", t.o.clientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.o.issuer+t.o.tokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		rec.add(step, 0, "request: "+err.Error())
		return tokenResponse{}, false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if t.o.clientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(t.o.clientID), url.QueryEscape(t.o.clientSecret))
	}
	var tok tokenResponse
	ok := t.exchange(ctx, rec, step, t.client, req, http.StatusOK, func(_ *http.Response, body []byte) error {
		if json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
			return errors.New("no access_token")
		}
		return nil
	})
	return tok, ok
}

// signIn runs the authorization code flow with PKCE (RFC 7636 §4) for
// username in a fresh cookie jar, recording each of its three requests.
func (t *target) signIn(ctx context.Context, rec *recorder, username string) (tokenResponse, bool) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		rec.add("authorize", 0, "cookie jar: "+err.Error())
		return tokenResponse{}, false
	}
	browser := newClient(t.tr, jar)
	verifier := oauth2.GenerateVerifier()
	state := rand.Text()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {t.o.clientID},
		"redirect_uri":          {t.o.redirectURI},
		"state":                 {state},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}
	if t.o.scope != "" {
		q.Set("scope", t.o.scope)
	}
	authURL := t.o.issuer + "/authorize?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		rec.add("authorize", 0, "request: "+err.Error())
		return tokenResponse{}, false
	}
	var form loginForm
	ok := t.exchange(ctx, rec, "authorize", browser, req, http.StatusOK, func(_ *http.Response, body []byte) error {
		form, err = parseLoginForm(authURL, string(body))
		return err
	})
	if !ok {
		return tokenResponse{}, false
	}

	form.fields.Set("username", username)
	form.fields.Set("password", t.o.password)
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, form.action, strings.NewReader(form.fields.Encode()))
	if err != nil {
		rec.add("login", 0, "request: "+err.Error())
		return tokenResponse{}, false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var code string
	ok = t.exchange(ctx, rec, "login", browser, req, http.StatusSeeOther, func(resp *http.Response, _ []byte) error {
		code, err = authorizationCode(resp.Header.Get("Location"), t.o.redirectURI, state)
		return err
	})
	if !ok {
		return tokenResponse{}, false
	}

	return t.token(ctx, rec, "token", url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {t.o.redirectURI},
		"code_verifier": {verifier},
	})
}

// authorizationCode reads the code from an authorization response (RFC 6749
// §4.1.2), which must go to redirectURI and carry state unchanged.
func authorizationCode(location, redirectURI, state string) (string, error) {
	if !strings.HasPrefix(location, redirectURI+"?") {
		return "", errors.New("no redirect to the redirect URI (wrong password?)")
	}
	u, err := url.Parse(location)
	if err != nil {
		return "", errors.New("unreadable Location")
	}
	q := u.Query()
	switch {
	case q.Get("error") != "":
		return "", errors.New("authorization error " + q.Get("error"))
	case q.Get("state") != state:
		return "", errors.New("state changed")
	case q.Get("code") == "":
		return "", errors.New("no code")
	}
	return q.Get("code"), nil
}

// loginForm is the sign-in form as a browser without JavaScript sees it.
type loginForm struct {
	action string     // absolute URL
	fields url.Values // the hidden inputs
}

var (
	formTagRe  = regexp.MustCompile(`(?is)<form\b[^>]*>`)
	inputTagRe = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	attrRe     = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')`)
)

// parseLoginForm finds the login form in a page served from pageURL: its
// action, resolved against the page, and its hidden inputs (request_id and
// csrf_token, which bind the POST to this page and this browser).
func parseLoginForm(pageURL, page string) (loginForm, error) {
	tag := formTagRe.FindString(page)
	if tag == "" {
		return loginForm{}, errors.New("no login form")
	}
	base, err := url.Parse(pageURL)
	if err != nil {
		return loginForm{}, fmt.Errorf("page URL: %w", err)
	}
	action, err := base.Parse(attributes(tag)["action"])
	if err != nil {
		return loginForm{}, errors.New("unreadable form action")
	}
	f := loginForm{action: action.String(), fields: url.Values{}}
	for _, in := range inputTagRe.FindAllString(page, -1) {
		a := attributes(in)
		if strings.EqualFold(a["type"], "hidden") && a["name"] != "" {
			f.fields.Set(a["name"], a["value"])
		}
	}
	if f.fields.Get("request_id") == "" {
		return loginForm{}, errors.New("no request_id in the login form")
	}
	return f, nil
}

func attributes(tag string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(tag, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2] + a[3])
	}
	return m
}

// maxBody bounds what is read of an answer; Keystile's largest (the login
// page) is a few kilobytes.
const maxBody = 1 << 20

// exchange sends req and records it under step: a success when the status is
// want and check (if not nil) accepts the answer, else a failure named by the
// status and, for an RFC 6749 §5.2 error, its error code. Latency runs from
// sending to the last byte of the body. A request cut off because ctx ended
// (an interrupt) is not recorded: it measured nothing.
func (t *target) exchange(ctx context.Context, rec *recorder, step string, c *http.Client, req *http.Request, want int, check func(*http.Response, []byte) error) bool {
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			rec.transportError(step, err)
		}
		return false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	d := time.Since(start)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			rec.transportError(step, err)
		}
		return false
	case resp.StatusCode != want:
		rec.add(step, d, statusFailure(resp.StatusCode, body))
		return false
	}
	if check != nil {
		if err := check(resp, body); err != nil {
			rec.add(step, d, strconv.Itoa(resp.StatusCode)+" "+err.Error())
			return false
		}
	}
	rec.add(step, d, "")
	return true
}

// statusFailure names an unexpected answer: "429", or "400 invalid_grant"
// when the body is an OAuth error. The description is left out: it is the
// same for every request of a kind and would only widen the report.
func statusFailure(status int, body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" && len(e.Error) <= 64 {
		return strconv.Itoa(status) + " " + e.Error
	}
	return strconv.Itoa(status)
}
