package tests

import (
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// startQuickstart starts the quickstart on a free loopback port with its
// files in a new directory, and returns it with its issuer and the
// password its banner shows.
func startQuickstart(t *testing.T, flags ...string) (p *process, issuer, password string) {
	t.Helper()
	dir := t.TempDir()
	p = startBinary(t, dir, append([]string{"quickstart", "--listen", "127.0.0.1:0", "--dir", dir}, flags...)...)
	issuer = p.waitOutput(listeningRe)[1]
	m := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("the banner shows no password:\n%s", p.stdout)
	}
	return p, issuer, m[1]
}

// TestBinaryQuickstartFirstHour: what a newcomer sees in the quickstart's
// first minutes. The banner's password is not scrolled away by request
// lines, start-up does not spend 64 MiB on hashing the demo password, and
// the signed-in demo still works (TestBinaryQuickstart, the README's
// walkthrough).
func TestBinaryQuickstartFirstHour(t *testing.T) {
	t.Parallel()
	p, issuer, _ := startQuickstart(t)

	// An argon2id hash at the default settings takes 64 MiB; the rest of
	// the quickstart, signing key generation included, about 20.
	if kib := statusKiB(t, p.cmd.Process.Pid, "VmHWM"); kib > 48<<10 {
		t.Errorf("the quickstart's peak memory after start is %d KiB, want under 48 MiB", kib)
	}

	before := strings.Count(p.stderr.String(), "\n")
	for range 20 {
		resp, err := http.Get(issuer + "/demo/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	p.stop()
	logs := p.stderr.String()
	if strings.Contains(logs, `"msg":"request"`) || strings.Count(logs, "\n")-before > 3 {
		t.Errorf("20 requests wrote %d log lines, which scroll the banner's password away:\n%s", strings.Count(logs, "\n")-before, logs)
	}
}

// TestBinaryQuickstartLogsRequestsOnAsk: --log-requests brings the
// request lines back, with durations a person reads.
func TestBinaryQuickstartLogsRequestsOnAsk(t *testing.T) {
	t.Parallel()
	p, issuer, _ := startQuickstart(t, "--log-requests")
	resp, err := http.Get(issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	p.stop()
	var line map[string]any
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(l, `"msg":"request"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("request line %q: %v", l, err)
			}
		}
	}
	if line == nil {
		t.Fatalf("no request line with --log-requests:\n%s", p.stderr)
	}
	ms, ok := line["duration_ms"].(float64)
	if !ok || ms < 0 || ms > 30_000 {
		t.Errorf("duration_ms = %v, want milliseconds", line["duration_ms"])
	}
	if _, raw := line["duration"]; raw {
		t.Errorf("the request line still has a raw duration: %v", line)
	}
	if m := regexp.MustCompile(`"timeout":(\d+)`).FindString(p.stderr.String()); m != "" {
		t.Errorf("the shutdown line logs its timeout in nanoseconds: %s", m)
	}
}

// TestBinaryBusyPort: a port already taken says how to pick another.
func TestBinaryBusyPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr)
	dir := t.TempDir()
	_, stderr, code := runBinaryIn(t, dir, "quickstart", "--listen", addr.String(), "--dir", dir)
	next := "--listen 127.0.0.1:" + strconv.Itoa(addr.Port+1)
	if code != 1 || !strings.Contains(stderr, addr.String()+" is already in use") || !strings.Contains(stderr, next) {
		t.Errorf("exit %d, stderr %q; want 1, the address in use and %q", code, stderr, next)
	}
}
