package tests

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestLogoutOffersToStay: the sign-out confirmation has a way back that
// keeps the session, a link to the application's registered return address
// when the request names one, a plain note otherwise.
func TestLogoutOffersToStay(t *testing.T) {
	t.Parallel()
	e := newLifecycleEnv(t, envOptions{})
	ctx := testContext(t)
	spa := e.oauthConfig("spa", oauth2.AuthStyleInParams)
	_, fl := e.login(ctx, t, "spa", "alice")
	b := fl.browser

	q := url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {spaSignedOut}, "state": {"bye"}}
	p := b.get(ctx, e.issuer+"/logout?"+q.Encode())
	if p.status != http.StatusOK {
		t.Fatalf("GET /logout: %s", describe(p))
	}
	stay := regexp.MustCompile(`<a class="button button-secondary" href="([^"]*)">Stay signed in</a>`).FindStringSubmatch(p.body)
	if stay == nil || html.UnescapeString(stay[1]) != spaSignedOut {
		t.Errorf("the confirmation has no \"Stay signed in\" link to %s:\n%s", spaSignedOut, p.body)
	}

	p = b.get(ctx, e.issuer+"/logout")
	if p.status != http.StatusOK || !strings.Contains(p.body, "To stay signed in, close this page") {
		t.Errorf("the confirmation without a return address does not say how to stay signed in: %s\n%s", describe(p), p.body)
	}
	// Taking the way back changes nothing: still signed in.
	if got, _ := ssoAttempt(ctx, t, b, spa); got != "code" {
		t.Errorf("after the confirmation page /authorize answered %q, want a code (single sign-on)", got)
	}
}
