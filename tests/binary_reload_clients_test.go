package tests

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestBinaryReloadClients: `keystile reload` gives a running server the
// clients of its edited configuration, and a configuration that does not
// load keeps the clients it has, with the reason in the log.
func TestBinaryReloadClients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port := freePort(t)
	issuer := "http://" + port
	secret, hash := newClientSecret(t)
	config := func(extraClients string) string {
		return fmt.Sprintf(`issuer: %s
listen: %s
store: memory
pid_file: keystile.pid
signing:
  algorithm: ES256
  key_file: signing.pem
clients:
  - id: spa
    public: true
    redirect_uris: [https://app.example.com/callback]
%s`, issuer, port, extraClients)
	}
	bot := fmt.Sprintf(`  - id: bot
    secret_hash: "%s"
    grant_types: [client_credentials]
    scopes: [reports:read]
`, hash)
	writeFile(t, filepath.Join(dir, "keystile.yaml"), config(""))
	p := startBinary(t, dir, "serve", "--config", "keystile.yaml")
	p.waitOutput(listeningRe)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc := &clientcredentials.Config{ClientID: "bot", ClientSecret: secret, TokenURL: issuer + "/token",
		Scopes: []string{"reports:read"}, AuthStyle: oauth2.AuthStyleInHeader}
	if _, err := cc.Token(ctx); errorCode(err) != "invalid_client" {
		t.Fatalf("bot before it is configured: %v, want invalid_client", err)
	}

	writeFile(t, filepath.Join(dir, "keystile.yaml"), config(bot))
	if out, stderr, code := runBinaryIn(t, dir, "reload", "--config", "keystile.yaml"); code != 0 {
		t.Fatalf("reload: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	waitLog(t, p, "reloaded the clients")
	if _, err := cc.Token(ctx); err != nil {
		t.Fatalf("bot after the reload: %v", err)
	}

	// A configuration that does not load (reload refuses to send it, so
	// the signal comes straight from here, as a careless kill -HUP would).
	writeFile(t, filepath.Join(dir, "keystile.yaml"), config(bot+`  - id: evil
    public: true
    redirect_uris: ["javascript:alert(1)"]
`))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "reloading the clients from the configuration failed; the clients are unchanged")
	if _, err := cc.Token(ctx); err != nil {
		t.Fatalf("bot after a refused reload: %v", err)
	}
	p.stop()
}

// waitLog waits until the server's log holds want.
func waitLog(t *testing.T, p *process, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q:\n%s", want, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
