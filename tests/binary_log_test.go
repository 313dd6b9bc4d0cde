package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestBinaryWritesHeldRequestLinesAtShutdown: `keystile serve` holds
// request lines to write them together (log_flush), and SIGTERM still
// leaves one JSON line per request in its log, the last request's too.
// log_flush is long here, so that no line is written by the timer before
// the process stops: only the shutdown can write them.
func TestBinaryWritesHeldRequestLinesAtShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret, secretHash := newClientSecret(t)
	addr := freePort(t)
	writeFile(t, filepath.Join(dir, "hs256.secret"), strings.Repeat("s3cr3t-", 8)+"\n")
	config := filepath.Join(dir, "keystile.yaml")
	writeFile(t, config, fmt.Sprintf(`issuer: http://%s
listen: %s
store: "memory:"
log_flush: 10s
signing:
  algorithm: HS256
  secret_file: hs256.secret
clients:
  - id: svc
    secret_hash: %q
    grant_types: [client_credentials]
`, addr, addr, secretHash))
	p := startBinary(t, dir, "serve", "--config", config)
	issuer := p.waitOutput(listeningRe)[1]

	ctx := testContext(t)
	cc := &clientcredentials.Config{ClientID: "svc", ClientSecret: secret, TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader}
	const tokens = 20
	for range tokens {
		if _, err := cc.Token(ctx); err != nil {
			t.Fatalf("client credentials: %v", err)
		}
	}
	last := "/last-request-" + randomToken(t, "")
	resp, err := http.Get(issuer + last)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	p.stop()

	var tokenLines, lastLines int
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if !strings.Contains(l, `"msg":"request"`) {
			continue
		}
		var line struct {
			Path   string
			Status int
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("request line %q: %v", l, err)
		}
		switch {
		case line.Path == "/token" && line.Status == http.StatusOK:
			tokenLines++
		case line.Path == last:
			lastLines++
		}
	}
	if tokenLines != tokens || lastLines != 1 {
		t.Errorf("after SIGTERM the log has %d lines of /token (want %d) and %d of the last request (want 1):\n%s",
			tokenLines, tokens, lastLines, p.stderr.String())
	}
	if secret != "" && strings.Contains(p.stderr.String(), secret) {
		t.Error("the client secret reached the log")
	}
}
