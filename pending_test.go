package keystile

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUnfinishedSignInsCostNothing: 2,000 unfinished /authorize requests
// from one address (one NAT, one office) store nothing, and a real user at
// that address signs in at once (issue 8, item 3). Before, every login page
// stored a pending request, so pages were capped per address and the flood
// left everyone behind it with "Too many sign-in pages".
func TestUnfinishedSignInsCostNothing(t *testing.T) {
	e := newTestEnv(t)
	attacker := e.browser()
	for i := range 2000 {
		resp, err := attacker.Get(e.issuer + "/authorize?" + authorizeQuery().Encode())
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="request_id"`) {
			t.Fatalf("login page %d of 2,000: status %d, want the form", i+1, resp.StatusCode)
		}
	}
	// The store holds nothing for them: a sweep far in the future finds
	// no record to delete.
	if n, err := e.srv.store.DeleteExpired(t.Context(), e.clock.Now().Add(24*time.Hour)); err != nil || n != 0 {
		t.Errorf("after 2,000 login pages the store held %d records (err %v), want none", n, err)
	}
	// A real user at the same address signs in at once.
	if code := e.login(e.browser(), authorizeQuery()).Query().Get("code"); code == "" {
		t.Fatal("the real user got no code")
	}
}

// TestSealedRequestIsSingleUse: a login form yields one code, however often
// it is posted: twice at once, or again later with the right password.
func TestSealedRequestIsSingleUse(t *testing.T) {
	e := newTestEnv(t)
	c := e.browser()
	_, body := e.get(c, "/authorize", authorizeQuery())
	f := parseLoginForm(t, body)
	form := url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {"alice"}, "password": {testPassword}}
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, _ := e.postForm(c, "/login", form, nil)
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	codes := 0
	for _, st := range statuses {
		switch st {
		case http.StatusSeeOther:
			codes++
		case http.StatusBadRequest:
		default:
			t.Errorf("a concurrent post: status %d, want 303 or 400", st)
		}
	}
	if codes != 1 {
		t.Fatalf("%d of %d concurrent posts of one form got a code, want exactly 1", codes, n)
	}
	if resp, _ := e.postForm(c, "/login", form, nil); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("a later replay: status %d, want 400 and no code", resp.StatusCode)
	}
}

// TestSealedRequestCannotBeForged: the request_id is sealed with a key only
// the server (and its replicas) holds: a changed, truncated or foreign one
// reads as an expired form, and what it carries never shows in the page.
func TestSealedRequestCannotBeForged(t *testing.T) {
	e := newTestEnv(t)
	other := newTestEnv(t) // another server, with other keys
	c := e.browser()
	q := authorizeQuery()
	q.Set("state", "secret-state-in-the-page")
	_, body := e.get(c, "/authorize", q)
	if strings.Contains(body, "secret-state-in-the-page") {
		t.Error("the login page shows the request's state in clear")
	}
	f := parseLoginForm(t, body)
	_, otherBody := other.get(c, "/authorize", authorizeQuery())
	foreign := parseLoginForm(t, otherBody).requestID
	flip := []byte(f.requestID)
	flip[len(flip)/2] ^= 1
	for name, rid := range map[string]string{
		"one character changed": string(flip),
		"truncated":             f.requestID[:len(f.requestID)-4],
		"another server's":      foreign,
		"not base64":            "!!!",
		"oversized":             strings.Repeat("A", maxSealedRequestLen+1),
	} {
		resp, _ := e.postForm(c, "/login", url.Values{"request_id": {rid}, "csrf_token": {f.csrf}, "username": {"alice"}, "password": {testPassword}}, nil)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: status %d, want the expired page and no code", name, resp.StatusCode)
		}
	}
}

// TestLoginFormWorksAcrossReplicas: two servers with the same keys and one
// store, as replicas behind a load balancer: a form from one is accepted by
// the other, and still only once.
func TestLoginFormWorksAcrossReplicas(t *testing.T) {
	a := newTestEnv(t)
	b := newTestEnvWith(t, func(c *Config) {
		c.Keys = a.srv.cfg.Keys
		c.Store = a.srv.cfg.Store
		c.Issuer = a.issuer
	})
	c := a.browser()
	_, body := a.get(c, "/authorize", authorizeQuery())
	f := parseLoginForm(t, body)
	form := url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {"alice"}, "password": {testPassword}}
	// The browser's cookies are the issuer's: b answers at another port
	// for the same issuer, as a replica behind one name would.
	req := func(env *testEnv) *http.Response {
		r, _ := http.NewRequest(http.MethodPost, env.http.URL+"/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		u, _ := url.Parse(a.issuer)
		for _, ck := range c.Jar.Cookies(u) {
			r.AddCookie(ck)
		}
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := req(b); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the form posted to the other replica: status %d, want 303", resp.StatusCode)
	}
	if resp := req(a); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the same form posted again to the first replica: status %d, want 400", resp.StatusCode)
	}
}
