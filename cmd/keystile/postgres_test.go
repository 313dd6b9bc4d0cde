package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keystile/keystile/password"
	"github.com/keystile/keystile/store/postgres/postgrestest"
)

// TestServePostgresReplicas runs two `keystile serve` replicas on one fresh
// PostgreSQL database and checks that they share their state: a token one
// replica revokes is inactive at the other. The database URL, password
// included, never reaches the output. (store/postgres tests replicas
// migrating an empty database at the same moment.)
func TestServePostgresReplicas(t *testing.T) {
	clearKeystileEnv(t)
	dbURL, dbPassword := withPassword(postgrestest.URL(t))
	dir := t.TempDir()
	writeFile(t, dir, "hs256.secret", strongSecret+"\n")
	config := writeFile(t, dir, "keystile.yaml", `issuer: http://127.0.0.1:9999
store: "`+dbURL+`"
signing:
  algorithm: HS256
  secret_file: hs256.secret
clients:
  - id: spa
    public: true
    redirect_uris: [https://app.example.com/callback]
  - id: bot
    secret_hash: "`+password.HashClientSecret("bot-secret")+`"
    grant_types: [client_credentials]
    scopes: [reports:read]
`)
	a := start(t, "serve", "--config", config, "--listen", "127.0.0.1:0")
	b := start(t, "serve", "--config", config, "--listen", "127.0.0.1:0")

	tok := postForm(t, a.base+"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}})
	access, _ := tok["access_token"].(string)
	if access == "" {
		t.Fatalf("client credentials at replica A gave no access token: %v", tok)
	}
	if got := postForm(t, b.base+"/introspect", url.Values{"token": {access}}); got["active"] != true {
		t.Errorf("introspect at replica B before the revocation = %v, want active", got)
	}
	postForm(t, a.base+"/revoke", url.Values{"token": {access}})
	// Replica B keeps the deny-list in memory and learns of the revocation
	// from PostgreSQL's notice, which leaves on A's commit: "at once" is
	// that notice's trip, so B is polled for a bounded time, not asked once.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		got := postForm(t, b.base+"/introspect", url.Values{"token": {access}})
		if got["active"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("introspect at replica B 5 s after replica A revoked it = %v, want inactive", got)
		}
	}
	authorize := b.base + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {"https://app.example.com/callback"},
		"state": {"xyz"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"},
	}.Encode()
	if resp := get(t, authorize); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /authorize at replica B: status %d, want the login page", resp.StatusCode)
	}

	for name, s := range map[string]*started{"A": a, "B": b} {
		if code := s.stop(); code != exitOK {
			t.Errorf("replica %s: exit code %d, want 0; stderr:\n%s", name, code, s.stderr)
		}
		out := s.stdout.String() + s.stderr.String()
		if !strings.Contains(out, `"store":"postgres"`) {
			t.Errorf("replica %s does not log that it runs on postgres:\n%s", name, out)
		}
		if strings.Contains(out, dbPassword) || strings.Contains(out, dbURL) {
			t.Errorf("replica %s printed the database URL or its password:\n%s", name, out)
		}
	}

	// What the replicas did is in the database, not in their memory; a
	// login page costs it nothing (the pending request is sealed in the
	// page), and only a finished sign-in records its request as used.
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("pgx.Connect: %v", err)
	}
	defer conn.Close(t.Context())
	for table, want := range map[string]int{"revoked_access_tokens": 1, "used_requests": 0} {
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
}

// withPassword gives a URL without a password one, which a server that
// trusts the connection ignores, so that the test can look for it in the
// output; it returns the URL and its password.
func withPassword(raw string) (string, string) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw, raw
	}
	if p, ok := u.User.Password(); ok {
		return raw, p
	}
	u.User = url.UserPassword(u.User.Username(), "never-printed-db-password")
	return u.String(), "never-printed-db-password"
}

// postForm posts form as the confidential client bot and decodes the JSON
// answer, failing the test unless it is a 200.
func postForm(t *testing.T, endpoint string, form url.Values) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bot", "bot-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read the answer: %v", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: status %d, body %s", endpoint, resp.StatusCode, raw)
	}
	var body map[string]any
	// A revocation answers 200 with an empty body (RFC 7009 §2.2).
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("POST %s: decode the answer %s: %v", endpoint, raw, err)
		}
	}
	return body
}
