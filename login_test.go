package keystile

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestLoginIssuesCodeWithStateAndIss(t *testing.T) {
	e := newTestEnv(t)
	loc := e.login(e.browser(), authorizeQuery())
	if !strings.HasPrefix(loc.String(), spaRedirect+"?") {
		t.Fatalf("redirected to %s", loc)
	}
	q := loc.Query()
	if q.Get("state") != "st & = ü" || q.Get("iss") != e.issuer || len(q.Get("code")) < 22 {
		t.Fatalf("bad authorization response %v", q)
	}
}

func TestLoginForm(t *testing.T) {
	e := newTestEnv(t)
	start := func(t *testing.T) (*http.Client, loginForm) {
		c := e.browser()
		resp, body := e.get(c, "/authorize", authorizeQuery())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return c, parseLoginForm(t, body)
	}
	post := func(c *http.Client, f loginForm, user, pass string, h http.Header) (*http.Response, string) {
		return e.postForm(c, "/login", url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {user}, "password": {pass}}, h)
	}

	t.Run("unknown user and wrong password read the same", func(t *testing.T) {
		c, f := start(t)
		r1, b1 := post(c, f, "alice", "wrong", nil)
		r2, b2 := post(c, f, "nobody", "wrong", nil)
		if r1.StatusCode != r2.StatusCode || r1.Header.Get("Location") != "" || r2.Header.Get("Location") != "" {
			t.Fatalf("statuses %d/%d; a failed login must not redirect", r1.StatusCode, r2.StatusCode)
		}
		msg := "That username and password do not match"
		if !strings.Contains(b1, msg) || !strings.Contains(b2, msg) {
			t.Fatal("the two failures do not show the same generic message")
		}
		// The request stays alive for a retry.
		resp, _ := post(c, f, "alice", testPassword, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("retry after a wrong password: status %d, want 303", resp.StatusCode)
		}
	})
	t.Run("request id from another browser", func(t *testing.T) {
		_, f := start(t)
		other := e.browser()
		e.get(other, "/authorize", authorizeQuery()) // the other browser has its own binding cookie
		resp, _ := post(other, f, "alice", testPassword, nil)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Fatalf("status %d Location %q, want 403 and no code", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("no cookie at all", func(t *testing.T) {
		_, f := start(t)
		resp, _ := post(&http.Client{CheckRedirect: e.browser().CheckRedirect}, f, "alice", testPassword, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("wrong CSRF token", func(t *testing.T) {
		c, f := start(t)
		f.csrf = newSecret()
		resp, _ := post(c, f, "alice", testPassword, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("cross-site post", func(t *testing.T) {
		c, f := start(t)
		resp, _ := post(c, f, "alice", testPassword, http.Header{"Sec-Fetch-Site": {"cross-site"}})
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Fatalf("status %d, want 403 and no code", resp.StatusCode)
		}
	})
	t.Run("used request cannot be replayed", func(t *testing.T) {
		c, f := start(t)
		if resp, _ := post(c, f, "alice", testPassword, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first: status %d", resp.StatusCode)
		}
		if resp, _ := post(c, f, "alice", testPassword, nil); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("replay: status %d, want 400 and no code", resp.StatusCode)
		}
	})
	t.Run("expired request", func(t *testing.T) {
		c, f := start(t)
		e.clock.Advance(e.srv.cfg.LoginTTL + 1)
		defer e.clock.Advance(-e.srv.cfg.LoginTTL - 1)
		if resp, _ := post(c, f, "alice", testPassword, nil); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("repeated field", func(t *testing.T) {
		c, f := start(t)
		form := url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {"alice", "bob"}, "password": {testPassword}}
		if resp, _ := e.postForm(c, "/login", form, nil); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("empty password", func(t *testing.T) {
		c, f := start(t)
		if resp, _ := post(c, f, "alice", "", nil); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("redirect URI unregistered since the request", func(t *testing.T) {
		c, f := start(t)
		spa, _ := e.srv.client("spa")
		saved := spa.RedirectURIs
		spa.RedirectURIs = []string{"http://127.0.0.1/native"}
		defer func() { spa.RedirectURIs = saved }()
		if resp, _ := post(c, f, "alice", testPassword, nil); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("status %d Location %q, want an error page and no redirect", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("throttled after a burst", func(t *testing.T) {
		c, f := start(t)
		var last int
		for i := 0; i < e.srv.cfg.LoginThrottle.Attempts+1; i++ {
			resp, _ := post(c, f, "throttled-user", "wrong", nil)
			last = resp.StatusCode
		}
		if last != http.StatusTooManyRequests {
			t.Fatalf("attempt %d: status %d, want 429", e.srv.cfg.LoginThrottle.Attempts+1, last)
		}
		resp, _ := post(c, f, "throttled-user", "wrong", nil)
		if resp.Header.Get("Retry-After") == "" {
			t.Error("a throttled sign-in has no Retry-After")
		}
	})
}
