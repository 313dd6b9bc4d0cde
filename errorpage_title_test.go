package keystile

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestErrorPageTitles pins the heading of the error pages the real handlers
// show: each error page states what went wrong from the user's side, and the
// heading must not drift when the message is reworded.
func TestErrorPageTitles(t *testing.T) {
	e := newTestEnv(t)
	with := func(edit func(q url.Values)) url.Values {
		q := authorizeQuery()
		edit(q)
		return q
	}
	const (
		invalidLink = "This sign-in link is not valid"
		cannotGoOn  = "We can't continue this sign-in"
		expired     = "This sign-in page has expired"
	)
	cases := []struct {
		name      string
		do        func() (*http.Response, string)
		wantTitle string
	}{
		{"unknown client", func() (*http.Response, string) {
			return e.get(e.browser(), "/authorize", with(func(q url.Values) { q.Set("client_id", "nobody") }))
		}, cannotGoOn},
		{"unregistered redirect URI", func() (*http.Response, string) {
			return e.get(e.browser(), "/authorize", with(func(q url.Values) { q.Set("redirect_uri", "https://evil.example.com/cb") }))
		}, cannotGoOn},
		{"missing redirect URI", func() (*http.Response, string) {
			return e.get(e.browser(), "/authorize", with(func(q url.Values) { q.Del("redirect_uri") }))
		}, invalidLink},
		{"client_id twice", func() (*http.Response, string) {
			return e.get(e.browser(), "/authorize", with(func(q url.Values) { q.Add("client_id", "spa") }))
		}, invalidLink},
		{"client not allowed to sign users in", func() (*http.Response, string) {
			return e.get(e.browser(), "/authorize", with(func(q url.Values) { q.Set("client_id", "svc") }))
		}, cannotGoOn},
		{"login form of an unknown request", func() (*http.Response, string) {
			return e.postForm(e.browser(), "/login", url.Values{"request_id": {"nope"}, "csrf_token": {"x"}, "username": {"alice"}, "password": {"p"}}, nil)
		}, expired},
		{"login form from another site", func() (*http.Response, string) {
			return e.postForm(e.browser(), "/login", url.Values{"request_id": {"nope"}}, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example.com"}})
		}, cannotGoOn},
		{"sign-out link of an unknown client", func() (*http.Response, string) {
			return e.get(e.browser(), "/logout", url.Values{"client_id": {"nobody"}})
		}, cannotGoOn},
		{"sign-out link too long", func() (*http.Response, string) {
			return e.get(e.browser(), "/logout", url.Values{"state": {strings.Repeat("s", 5000)}})
		}, invalidLink},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.do()
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("status %d, Content-Type %q: not an error page", resp.StatusCode, ct)
			}
			if want := `<h1 id="page-title">` + template.HTMLEscapeString(tc.wantTitle) + `</h1>`; !strings.Contains(body, want) {
				t.Errorf("heading is not %q:\n%.600s", tc.wantTitle, body)
			}
		})
	}
}
