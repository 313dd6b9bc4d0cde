package tests

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestLogsHoldNoSecrets runs sign-ins that succeed and fail in many ways
// with a debug-level logger, and fails if any secret that went over the wire
// shows up in the server's log (docs/security.md §11).
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{alg: "RS256", store: openSQLite, loginUnlimited: true})
	ctx := testContext(t)
	secrets := map[string]string{} // secret → what it is
	keep := func(what, s string) {
		if s != "" {
			secrets[s] = what
		}
	}
	for name, u := range e.users {
		keep("password of "+name, u.password)
	}
	for id, s := range e.secrets {
		keep("client secret of "+id, s)
	}
	keepFlow := func(what string, fl flow) {
		keep(what+": code", fl.code)
		keep(what+": verifier", fl.verifier)
		for _, c := range fl.browser.cookieValues(e.issuer) {
			keep(what+": cookie", c)
		}
	}
	keepForm := func(what string, f loginForm) {
		keep(what+": request_id", f.fields.Get("request_id"))
		keep(what+": csrf_token", f.fields.Get("csrf_token"))
	}

	// Successful sign-ins through each client authentication method.
	for _, c := range []struct {
		id    string
		style oauth2.AuthStyle
	}{{"spa", oauth2.AuthStyleInParams}, {"backend", oauth2.AuthStyleInHeader}, {"backend", oauth2.AuthStyleInParams}} {
		fl := e.signIn(ctx, e.oauthConfig(c.id, c.style), "alice")
		keepFlow("happy "+c.id, fl)
		tok, err := fl.exchange(ctx)
		if err != nil {
			t.Fatalf("exchange for %s: %v", c.id, err)
		}
		keep("access token for "+c.id, tok.AccessToken)
		// Replay, which fails.
		_, err = fl.exchange(ctx)
		wantOAuthError(t, nil, err, "invalid_grant")
	}

	// A wrong verifier.
	fl := e.signIn(ctx, e.oauthConfig("spa", oauth2.AuthStyleInParams), "bob")
	keepFlow("wrong verifier", fl)
	wrong := oauth2.GenerateVerifier()
	keep("wrong verifier", wrong)
	_, err := fl.conf.Exchange(ctx, fl.code, oauth2.VerifierOption(wrong))
	wantOAuthError(t, nil, err, "invalid_grant")

	// A wrong client secret, by Basic and in the body.
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		fl := e.signIn(ctx, e.oauthConfig("backend", oauth2.AuthStyleInHeader), "alice")
		keepFlow("bad secret", fl)
		conf := *fl.conf
		conf.ClientSecret = randomToken(t, "wrong-client-secret-")
		conf.Endpoint.AuthStyle = style
		keep("wrong client secret", conf.ClientSecret)
		_, err := conf.Exchange(ctx, fl.code, oauth2.VerifierOption(fl.verifier))
		wantOAuthError(t, nil, err, "invalid_client")
	}

	// A wrong password, an unknown user, then a CSRF mismatch on one form.
	b := e.newBrowser()
	conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
	form := b.authorize(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	keepForm("failed sign-in", form)
	wrongPassword := randomToken(t, "wrong-password-")
	keep("wrong password", wrongPassword)
	b.submit(ctx, form, "alice", wrongPassword)
	b.submit(ctx, form, "nobody-"+randomToken(t, ""), wrongPassword)
	forged := form
	forged.fields = url.Values{"request_id": {form.fields.Get("request_id")}, "csrf_token": {randomToken(t, "forged-csrf-")}}
	keep("forged csrf token", forged.fields.Get("csrf_token"))
	b.submit(ctx, forged, "alice", e.users["alice"].password)
	for _, c := range b.cookieValues(e.issuer) {
		keep("failed sign-in: cookie", c)
	}

	// Secrets in places where a careless logger would print them: the query
	// of a POST to /token and a malformed Authorization header.
	fl = e.signIn(ctx, e.oauthConfig("spa", oauth2.AuthStyleInParams), "alice")
	keepFlow("code in the query", fl)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		e.issuer+"/token?code="+url.QueryEscape(fl.code)+"&code_verifier="+fl.verifier,
		strings.NewReader("grant_type=authorization_code&client_id=spa&redirect_uri="+url.QueryEscape(spaRedirect)))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+e.secrets["partner"]) // not base64 of id:secret
	if p := e.newBrowser().do(req); p.status == http.StatusOK {
		t.Errorf("a code sent in the URL query of /token was accepted")
	}

	logs := e.logs.String()
	if !strings.Contains(logs, "level=") {
		t.Fatalf("the server logged nothing; the scan would prove nothing:\n%s", logs)
	}
	for s, what := range secrets {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if strings.Contains(logs, form) {
				t.Errorf("the log contains the %s", what)
				break
			}
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}
