package keystile

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// throttleEnv is a test server behind a trusted proxy (127.0.0.1), so that
// each request can come from the address its X-Forwarded-For names.
func throttleEnv(t *testing.T, useTLS bool) *testEnv {
	return newTestEnvTLS(t, useTLS, func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
}

// signInFrom runs the login page and the form in browser c, from addr,
// with prompt=login (a browser whose session has ended) and returns the
// status of the form's post and the page.
func (e *testEnv) signInFrom(c *http.Client, addr, username, password string) (int, string) {
	e.t.Helper()
	q := authorizeQuery()
	q.Set("prompt", "login")
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/authorize?"+q.Encode(), nil)
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	f := parseLoginForm(e.t, readBody(e.t, resp))
	resp, body := e.postForm(c, "/login", url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {username}, "password": {password}},
		http.Header{"X-Forwarded-For": {addr}})
	return resp.StatusCode, body
}

// TestRealUserGetsInWhileTheAccountIsHammered: an attacker who hammers an
// account from elsewhere keeps it throttled for unknown browsers, but its
// owner signs in at once from the browser they signed in with before: it
// has a budget of its own (issue 8, item 2). Before, one wrong attempt per
// second kept the owner at 429 for as long as the attacker liked. The test
// clock stands still, so no wait ever runs out.
func TestRealUserGetsInWhileTheAccountIsHammered(t *testing.T) {
	e := throttleEnv(t, false)
	const victimAddr, attackerAddr = "198.51.100.20", "203.0.113.7"
	owner := e.browser()
	if st, body := e.signInFrom(owner, victimAddr, "alice", testPassword); st != http.StatusSeeOther {
		t.Fatalf("the owner's first sign-in: status %d\n%s", st, body)
	}

	attacker := e.browser()
	throttled := 0
	for range 50 {
		st, body := e.signInFrom(attacker, attackerAddr, "alice", "guess")
		switch st {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			throttled++
			if !strings.Contains(body, "Too many failed sign-ins. Try again in") {
				t.Fatalf("the throttled page does not say how long to wait:\n%s", body)
			}
		default:
			t.Fatalf("a guess: status %d", st)
		}
	}
	if throttled < 45 {
		t.Fatalf("%d of 50 guesses were throttled, want all but the free ones", throttled)
	}
	// The owner's usual browser is not locked out, whatever the address.
	for _, addr := range []string{victimAddr, attackerAddr} {
		if st, _ := e.signInFrom(owner, addr, "alice", testPassword); st != http.StatusSeeOther {
			t.Fatalf("the owner's known browser from %s while the account is hammered: status %d, want 303", addr, st)
		}
	}
	// Another browser of the owner's, never signed in, waits like the
	// attacker: that is the budget the attacker spent.
	if st, _ := e.signInFrom(e.browser(), victimAddr, "alice", testPassword); st != http.StatusTooManyRequests {
		t.Errorf("a browser that never signed in: status %d, want 429", st)
	}
	// The known browser's budget is for alice only, and has its own limit.
	if st, _ := e.signInFrom(owner, victimAddr, "bob", "guess"); st != http.StatusOK {
		t.Fatalf("a guess for bob: status %d", st)
	}
	for range e.srv.cfg.LoginThrottle.Attempts {
		e.signInFrom(owner, victimAddr, "alice", "typo")
	}
	if st, _ := e.signInFrom(owner, victimAddr, "alice", "typo"); st != http.StatusTooManyRequests {
		t.Errorf("the known browser past its own free attempts: status %d, want 429", st)
	}
}

// TestKnownDeviceCookie: the cookie is HttpOnly and SameSite=Strict, Secure
// with the __Host- prefix on https; its value is signed, so a changed one
// is no known device.
func TestKnownDeviceCookie(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		e := throttleEnv(t, useTLS)
		c := e.browser()
		q := authorizeQuery()
		_, body := e.get(c, "/authorize", q)
		f := parseLoginForm(t, body)
		resp, _ := e.postForm(c, "/login", url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {"alice"}, "password": {testPassword}}, nil)
		var device *http.Cookie
		for _, ck := range resp.Cookies() {
			if strings.HasSuffix(ck.Name, "keystile_device") {
				device = ck
			}
		}
		if device == nil {
			t.Fatalf("TLS %v: a successful sign-in set no known-device cookie", useTLS)
		}
		wantName := "keystile_device"
		if useTLS {
			wantName = "__Host-keystile_device"
		}
		if device.Name != wantName || !device.HttpOnly || device.SameSite != http.SameSiteStrictMode || device.Secure != useTLS || device.Path != "/" || device.Domain != "" {
			t.Errorf("TLS %v: cookie %+v, want %s, HttpOnly, SameSite=Strict, Secure=%v, Path=/", useTLS, device, wantName, useTLS)
		}
		r := httptestRequestWithCookie(device)
		if _, ok := e.srv.knownDevice(r, "alice", e.clock.Now()); !ok {
			t.Errorf("TLS %v: the cookie is not a known device of alice", useTLS)
		}
		if _, ok := e.srv.knownDevice(r, "bob", e.clock.Now()); ok {
			t.Errorf("TLS %v: alice's cookie passes for bob's", useTLS)
		}
		if _, ok := e.srv.knownDevice(r, "alice", e.clock.Now().Add(e.srv.cfg.LoginThrottle.KnownDeviceTTL)); ok {
			t.Errorf("TLS %v: the cookie outlives its TTL", useTLS)
		}
		changed := *device
		v := []byte(changed.Value)
		v[3] ^= 1
		changed.Value = string(v)
		if _, ok := e.srv.knownDevice(httptestRequestWithCookie(&changed), "alice", e.clock.Now()); ok {
			t.Errorf("TLS %v: a changed cookie is still a known device", useTLS)
		}
	}
}

func httptestRequestWithCookie(c *http.Cookie) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://x/login", nil)
	r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	return r
}

// TestThrottledFloodWritesBoundedLogs: a flood of throttled sign-ins writes
// a bounded number of log lines, not one per attempt (issue 8, item 2).
func TestThrottledFloodWritesBoundedLogs(t *testing.T) {
	e := throttleEnv(t, false)
	c := e.browser()
	_, body := e.get(c, "/authorize", authorizeQuery())
	f := parseLoginForm(t, body)
	form := url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {"alice"}, "password": {"guess"}}
	before := strings.Count(e.logs.String(), "\n")
	for range 1000 {
		e.postForm(c, "/login", form, http.Header{"X-Forwarded-For": {"203.0.113.7"}})
	}
	lines := strings.Count(e.logs.String(), "\n") - before
	// The free attempts each log a refusal; the throttled ones share a
	// budget of lines.
	if max := e.srv.cfg.LoginThrottle.Attempts + throttleLogBurst; lines > max {
		t.Fatalf("1,000 attempts wrote %d log lines, want at most %d", lines, max)
	}
	if !strings.Contains(e.logs.String(), "sign-in throttled") {
		t.Fatal("no line says sign-ins were throttled")
	}
	// When the budget allows a line again, it says how many were held back.
	e.clock.Advance(throttleLogEvery)
	for range 2 { // the back-off let one more guess through meanwhile
		e.postForm(c, "/login", form, http.Header{"X-Forwarded-For": {"203.0.113.7"}})
	}
	if !strings.Contains(e.logs.String(), "suppressed=") {
		t.Error("the next line does not count the lines held back")
	}
}

// TestLoginThrottleConfig: zero fields take the defaults, nonsense is
// refused, and Disabled lets every attempt through.
func TestLoginThrottleConfig(t *testing.T) {
	got, err := LoginThrottle{}.withDefaults()
	if err != nil || got != (LoginThrottle{Attempts: 5, MaxDelay: 15 * time.Minute, DailyLimit: 100, PerAddress: 60, KnownDeviceTTL: 30 * 24 * time.Hour}) {
		t.Fatalf("defaults = %+v, %v", got, err)
	}
	for _, bad := range []LoginThrottle{{Attempts: -1}, {MaxDelay: -time.Second}, {DailyLimit: 3, Attempts: 5}, {PerAddress: -2}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	e := newTestEnvWith(t, func(c *Config) { c.LoginThrottle.Disabled = true })
	c := e.browser()
	_, body := e.get(c, "/authorize", authorizeQuery())
	f := parseLoginForm(t, body)
	for i := range 30 {
		resp, _ := e.postForm(c, "/login", url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "username": {"alice"}, "password": {"guess"}}, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("attempt %d with the throttle off: status %d", i+1, resp.StatusCode)
		}
	}
}
