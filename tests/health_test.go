package tests

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keystile/keystile/store/postgres/postgrestest"
)

// probe GETs url and returns the status and the trimmed body; status 0 if
// the request failed (nothing listens).
func probe(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// waitProbe polls url until it answers want, failing after 30 s.
func waitProbe(t *testing.T, url string, want int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, body := probe(t, url)
		if got == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %q, want %d within 30s", url, got, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// proxiedPostgres returns a fresh PostgreSQL schema's URL that goes through
// a TCP proxy the test can cut: the shared server stays up for the other
// tests while this one's replica loses it.
func proxiedPostgres(t *testing.T) (string, *tcpProxy) {
	t.Helper()
	u, err := url.Parse(postgrestest.URL(t))
	if err != nil {
		t.Fatalf("parsing the test database URL: %v", err)
	}
	p := newTCPProxy(t, u.Host)
	u.Host = p.addr()
	return u.String(), p
}

// TestBinaryHealth runs `keystile serve` on PostgreSQL through a TCP proxy:
// /healthz answers while the process serves; /readyz answers 200 while the
// store answers, 503 while PostgreSQL is unreachable (the proxy is cut) and
// 200 again once it is back; after SIGTERM, /readyz answers 503 "draining"
// for drain_delay while other requests are still served, and then the
// process exits cleanly.
func TestBinaryHealth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbURL, proxy := proxiedPostgres(t)
	addr := freePort(t)
	base := "http://" + addr
	writeFile(t, filepath.Join(dir, "keystile.yaml"), fmt.Sprintf(`issuer: %s/auth
listen: %s
store: %q
signing:
  algorithm: ES256
  key_file: signing.pem
drain_delay: 3s
clients:
  - id: app
    public: true
    redirect_uris: [https://app.example.test/callback]
`, base, addr, dbURL))
	p := startBinary(t, dir, "serve", "--config", filepath.Join(dir, "keystile.yaml"))
	p.waitOutput(listeningRe)

	// The probes sit at the root, not under the issuer's path.
	if got, body := probe(t, base+"/healthz"); got != http.StatusOK || body != "ok" {
		t.Errorf("/healthz: %d %q, want 200 ok", got, body)
	}
	if got, body := probe(t, base+"/readyz"); got != http.StatusOK || body != "ok" {
		t.Errorf("/readyz: %d %q, want 200 ok", got, body)
	}

	proxy.setCut(true)
	if body := waitProbe(t, base+"/readyz", http.StatusServiceUnavailable); body != "store unavailable" {
		t.Errorf("/readyz with PostgreSQL cut off says %q, want \"store unavailable\"", body)
	}
	if got, _ := probe(t, base+"/healthz"); got != http.StatusOK {
		t.Errorf("/healthz with PostgreSQL cut off: %d, want 200 (the process still serves)", got)
	}
	proxy.setCut(false)
	waitProbe(t, base+"/readyz", http.StatusOK)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	if body := waitProbe(t, base+"/readyz", http.StatusServiceUnavailable); body != "draining" {
		t.Errorf("/readyz after SIGTERM says %q, want \"draining\"", body)
	}
	if got, _ := probe(t, base+"/auth/.well-known/jwks.json"); got != http.StatusOK {
		t.Errorf("JWKS while draining: %d, want 200 (requests are served until the listener closes)", got)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("keystile did not exit within 30s of SIGTERM")
	}
	if p.err != nil {
		t.Errorf("keystile after SIGTERM: %v, want exit code 0", p.err)
	}
}
