package testutil

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Form is an HTML form as a browser reads it: the action it posts to, as
// written in the page, and its hidden inputs.
type Form struct {
	Action string
	Hidden url.Values
}

var (
	formTagRe = regexp.MustCompile(`(?is)<form\b[^>]*>`)
	inputRe   = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	attrRe    = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')`)
)

func attrs(tag string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(tag, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2] + a[3])
	}
	return m
}

// ParseForm reads the first form of an HTML page and the hidden inputs of
// the page. ok is false when the page has no form.
func ParseForm(body string) (f Form, ok bool) {
	tag := formTagRe.FindString(body)
	if tag == "" {
		return Form{}, false
	}
	f = Form{Action: attrs(tag)["action"], Hidden: url.Values{}}
	for _, in := range inputRe.FindAllString(body, -1) {
		a := attrs(in)
		if strings.EqualFold(a["type"], "hidden") && a["name"] != "" {
			f.Hidden.Set(a["name"], a["value"])
		}
	}
	return f, true
}

// LoginForm reads the sign-in form of a page and fails the test unless it
// carries both a request_id and a csrf_token: the form is bound to the
// pending authorization request and CSRF-protected.
func LoginForm(t testing.TB, body string) Form {
	t.Helper()
	f, ok := ParseForm(body)
	if !ok || f.Hidden.Get("request_id") == "" || f.Hidden.Get("csrf_token") == "" {
		t.Fatalf("the page has no login form with a request_id and a csrf_token:\n%s", body)
	}
	return f
}
