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
	authorize := func(name, value string) url.Values {
		q := authorizeQuery()
		if value == "" {
			q.Del(name)
		} else {
			q.Add(name, value)
		}
		return q
	}
	unknownClient, unregistered, svc := authorizeQuery(), authorizeQuery(), authorizeQuery()
	unknownClient.Set("client_id", "nobody")
	unregistered.Set("redirect_uri", "https://evil.example.com/cb")
	svc.Set("client_id", "svc")
	loginForm := url.Values{"request_id": {"nope"}, "csrf_token": {"x"}, "username": {"alice"}, "password": {"p"}}
	crossSite := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example.com"}}
	cases := []struct {
		name, path string
		q          url.Values  // a GET with this query, or
		form       url.Values  // a POST of this form
		header     http.Header // with the POST
		wantTitle  string
	}{
		{"unknown client", "/authorize", unknownClient, nil, nil, titleCannotGoOn},
		{"unregistered redirect URI", "/authorize", unregistered, nil, nil, titleCannotGoOn},
		{"missing redirect URI", "/authorize", authorize("redirect_uri", ""), nil, nil, titleInvalidLink},
		{"client_id twice", "/authorize", authorize("client_id", "spa"), nil, nil, titleInvalidLink},
		{"client not allowed to sign users in", "/authorize", svc, nil, nil, titleCannotGoOn},
		{"sign-out link of an unknown client", "/logout", url.Values{"client_id": {"nobody"}}, nil, nil, titleCannotGoOn},
		{"sign-out link too long", "/logout", url.Values{"state": {strings.Repeat("s", 5000)}}, nil, nil, titleInvalidLink},
		{"login form of an unknown request", "/login", nil, loginForm, nil, titleExpired},
		{"login form from another site", "/login", nil, loginForm, crossSite, titleCannotGoOn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			var body string
			if tc.form != nil {
				resp, body = e.postForm(e.browser(), tc.path, tc.form, tc.header)
			} else {
				resp, body = e.get(e.browser(), tc.path, tc.q)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("status %d, Content-Type %q: not an error page", resp.StatusCode, ct)
			}
			if want := `<h1 id="page-title">` + template.HTMLEscapeString(tc.wantTitle) + `</h1>`; !strings.Contains(body, want) {
				t.Errorf("heading is not %q:\n%.600s", tc.wantTitle, body)
			}
		})
	}
}
