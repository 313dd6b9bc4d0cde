package keystile

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// TestClientAuthenticationIsThrottled: failed client authentication is
// throttled per client and per address (issue 8, item 1). A throttled
// attempt gets 429 invalid_client with Retry-After; the real client, from
// an address where it authenticated before, still gets its tokens while its
// id is flooded from elsewhere. The test clock stands still, so no bucket
// refills.
func TestClientAuthenticationIsThrottled(t *testing.T) {
	e := newTestEnvWith(t, func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	cc := url.Values{"grant_type": {"client_credentials"}}
	as := func(id, secret, addr string) http.Header {
		h := basicAuth(id, secret)
		h.Set("X-Forwarded-For", addr)
		return h
	}
	flood := func(n int, header func(i int) http.Header) (throttled int) {
		t.Helper()
		for i := range n {
			a := e.token(cc, header(i))
			switch a.status {
			case http.StatusUnauthorized:
			case http.StatusTooManyRequests:
				throttled++
				if a.Error != "invalid_client" || a.header.Get("Retry-After") == "" {
					t.Fatalf("throttled answer: %+v, want invalid_client with Retry-After", a)
				}
			default:
				t.Fatalf("attempt %d: %+v, want 401 or 429", i, a)
			}
		}
		return throttled
	}

	// The service account signs in from its own address first.
	if a := e.token(cc, as("svc", testClientSecret, "10.1.0.1")); a.status != http.StatusOK {
		t.Fatalf("the service's own request: %+v", a)
	}
	// One address sends wrong secrets for svc: throttled after a burst.
	if n := flood(100, func(int) http.Header { return as("svc", "wrong", "203.0.113.7") }); n < 75 {
		t.Fatalf("%d of 100 wrong secrets from one address were throttled, want most", n)
	}
	// Many addresses send wrong secrets for svc: the client's own budget
	// runs out.
	if n := flood(100, func(i int) http.Header { return as("svc", "wrong", fmt.Sprintf("198.51.100.%d", i)) }); n < 75 {
		t.Fatalf("%d of 100 wrong secrets from 100 addresses were throttled, want most", n)
	}
	// Invented client ids from one address: the address's budget runs out.
	if n := flood(100, func(i int) http.Header { return as(fmt.Sprintf("nobody-%d", i), "x", "192.0.2.9") }); n < 75 {
		t.Fatalf("%d of 100 unknown client ids from one address were throttled, want most", n)
	}
	// The real service, from its known address, is not locked out.
	if a := e.token(cc, as("svc", testClientSecret, "10.1.0.1")); a.status != http.StatusOK {
		t.Fatalf("the service from its known address during the flood: %+v, want its token", a)
	}
	if !strings.Contains(e.logs.String(), "client authentication throttled") {
		t.Error("no log line says that client authentication was throttled")
	}
	if n := strings.Count(e.logs.String(), "client authentication throttled"); n > throttleLogBurst {
		t.Errorf("the floods wrote %d throttle lines, want at most %d", n, throttleLogBurst)
	}
}
