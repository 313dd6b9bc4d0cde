package tests

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestWrongThenRightPassword: a mistyped password shows the form again with a
// message, and the same form then signs the user in.
func TestWrongThenRightPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := testContext(t)
	conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
	verifier := oauth2.GenerateVerifier()
	b := e.newBrowser()
	authURL := conf.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier))
	form := b.authorize(ctx, authURL)

	p := b.submit(ctx, form, "alice", "not her password")
	if p.status >= 300 && p.status < 400 || p.location() != "" {
		t.Fatalf("wrong password redirected: %s", describe(p))
	}
	again, ok := parseLoginForm(form.action, p)
	if !ok {
		t.Fatalf("wrong password: no login form to try again:\n%s", p.body)
	}
	if again.fields.Get("request_id") != form.fields.Get("request_id") {
		t.Errorf("the form shown again belongs to another request: the pending request must stay alive")
	}
	if !strings.Contains(p.body, `value="alice"`) {
		t.Errorf("the form shown again does not keep the username")
	}
	if strings.Contains(p.body, "not her password") {
		t.Errorf("the form shown again echoes the password")
	}

	p = b.submit(ctx, again, "alice", e.users["alice"].password)
	q := authResponse(t, p, spaRedirect)
	if q.Get("state") != "xyz" || q.Get("code") == "" {
		t.Fatalf("authorization response %v: want a code and state xyz", q)
	}
	if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange after a retried password: %v", err)
	}
}

// TestSameMessageForUnknownUserAndWrongPassword: the page must not tell which
// usernames exist.
func TestSameMessageForUnknownUserAndWrongPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := testContext(t)
	conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
	b := e.newBrowser()
	authURL := conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	form := b.authorize(ctx, authURL)

	// Same length usernames, one real, one not, on the same form.
	wrongPassword := b.submit(ctx, form, "alice", "wrong-password")
	unknownUser := b.submit(ctx, form, "zelda", "wrong-password")
	if wrongPassword.status != unknownUser.status {
		t.Errorf("status %d for a wrong password, %d for an unknown user: want the same", wrongPassword.status, unknownUser.status)
	}
	norm := func(s, user string) string {
		s = strings.ReplaceAll(s, user, "USERNAME")
		return nonceRe.ReplaceAllString(s, `nonce="…"`)
	}
	if a, b := norm(wrongPassword.body, "alice"), norm(unknownUser.body, "zelda"); a != b {
		t.Errorf("the pages differ for a wrong password and an unknown user:\n--- wrong password\n%s\n--- unknown user\n%s", a, b)
	}
	if norm(wrongPassword.body, "alice") == norm(form.page.body, "alice") {
		t.Errorf("a wrong password shows the form with no message at all")
	}
}

// TestLoginRefused: the login form is bound to its page (CSRF token) and to
// the browser that opened it (cookie); a request id alone must not be
// enough to collect the user's code (docs/security.md §5).
func TestLoginRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// post builds the refused POST from the victim's browser and form; it
		// may use another browser.
		post func(t *testing.T, e *env, victim *browser, form loginForm) page
	}{
		{"wrong CSRF token", func(t *testing.T, e *env, victim *browser, form loginForm) page {
			form.fields.Set("csrf_token", randomToken(t, ""))
			return victim.submit(testContext(t), form, "alice", e.users["alice"].password)
		}},
		{"no CSRF token", func(t *testing.T, e *env, victim *browser, form loginForm) page {
			form.fields.Del("csrf_token")
			return victim.submit(testContext(t), form, "alice", e.users["alice"].password)
		}},
		{"CSRF token of another pending request", func(t *testing.T, e *env, victim *browser, form loginForm) page {
			ctx := testContext(t)
			conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
			other := victim.authorize(ctx, conf.AuthCodeURL("other tab", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			form.fields.Set("csrf_token", other.fields.Get("csrf_token"))
			return victim.submit(ctx, form, "alice", e.users["alice"].password)
		}},
		{"valid request_id and CSRF token from another cookie jar", func(t *testing.T, e *env, victim *browser, form loginForm) page {
			attacker := e.newBrowser()
			// The attacker has a binding cookie of its own from its own visit.
			conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
			attacker.authorize(testContext(t), conf.AuthCodeURL("mine", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			return attacker.submit(testContext(t), form, "alice", e.users["alice"].password)
		}},
		{"valid request_id and CSRF token with no cookie at all", func(t *testing.T, e *env, victim *browser, form loginForm) page {
			return e.newBrowser().submit(testContext(t), form, "alice", e.users["alice"].password)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			ctx := testContext(t)
			victim := e.newBrowser()
			conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
			form := victim.authorize(ctx, conf.AuthCodeURL("victim", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			p := tc.post(t, e, victim, form)
			if p.status < 400 || p.status >= 500 {
				t.Errorf("status %d, want the POST refused with a 4xx error page", p.status)
			}
			if loc := p.location(); loc != "" {
				t.Errorf("a refused sign-in redirected to %q", loc)
			}
			if strings.Contains(p.body, "code=") {
				t.Errorf("a refused sign-in page mentions a code:\n%s", p.body)
			}
		})
	}
}

// TestCrossSiteLoginPost: a login form posted from another site is refused
// before anything is checked (Go's CrossOriginProtection), even with a
// correct CSRF token and cookie.
func TestCrossSiteLoginPost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		header http.Header
	}{
		{"Sec-Fetch-Site: cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"Sec-Fetch-Site: same-site", http.Header{"Sec-Fetch-Site": {"same-site"}}},
		{"foreign Origin without Sec-Fetch-Site", http.Header{"Origin": {"https://evil.example"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			ctx := testContext(t)
			b := e.newBrowser()
			conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
			form := b.authorize(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			v := url.Values{}
			for k, vs := range form.fields {
				v[k] = vs
			}
			v.Set("username", "alice")
			v.Set("password", e.users["alice"].password)
			p := b.postForm(ctx, form.action, v, tc.header)
			if p.status != http.StatusForbidden {
				t.Errorf("status %d, want 403", p.status)
			}
			if loc := p.location(); loc != "" {
				t.Errorf("a cross-site sign-in redirected to %q", loc)
			}

			// The same form from the same origin still works: the refusal
			// did not consume the pending request.
			p = b.postForm(ctx, form.action, v, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {e.issuer}})
			if q := authResponse(t, p, spaRedirect); q.Get("code") == "" {
				t.Errorf("same-origin sign-in after a refused cross-site one: no code in %v", q)
			}
		})
	}
}
