package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/store/postgres/postgrestest"
)

const clusterKEK = "kek: 0123456789abcdef0123456789abcdef, never logged"

// kids returns the key ids a replica's JWKS publishes.
func kids(t *testing.T, base string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, k := range fetchJWKS(t, base).Keys {
		out[k.Kid] = true
	}
	return out
}

// storedKeys reads the signing_keys table behind the replicas' backs.
func storedKeys(t *testing.T, dbURL string) [][]byte {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("pgx.Connect: %v", err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `SELECT material FROM signing_keys`)
	if err != nil {
		t.Fatalf("reading signing_keys: %v", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatalf("reading signing_keys: %v", err)
	}
	return out
}

// TestBinaryStoreKeys runs two replicas that keep their keys in one
// PostgreSQL schema, sealed with a key-encryption secret. Started together
// on an empty schema they create exactly one key. `keystile rotate-key`
// then adds a key that both replicas publish before either signs with it,
// while a remote Verifier (a JWKS cache period of 1 s, no faster refetch)
// accepts every token they issue throughout; the old key stays published.
// A replica without the secret refuses to start, and the secret never
// reaches a log.
func TestBinaryStoreKeys(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dbURL := postgrestest.URL(t)
	c := newCluster(t, dbURL, "  key_encryption_secret_file: kek\n", "")
	writeFile(t, filepath.Join(c.dir, "kek"), clusterKEK+"\n")
	rs := c.start(2)

	materials := storedKeys(t, dbURL)
	if len(materials) != 1 {
		t.Fatalf("two replicas starting together stored %d keys, want exactly 1", len(materials))
	}
	if bytes.Contains(materials[0], []byte("PRIVATE KEY")) {
		t.Error("the store holds the private key in plain PEM although a key-encryption secret is set")
	}
	first := kids(t, rs[0].base)
	if len(first) != 1 || !mapsEqual(first, kids(t, rs[1].base)) {
		t.Fatalf("JWKS %v and %v, want one key, the same on both replicas", first, kids(t, rs[1].base))
	}

	verifier, err := keystile.NewVerifier(keystile.VerifierConfig{Issuer: c.issuer, JWKSURL: c.issuer + "/.well-known/jwks.json",
		JWKSMaxAge: time.Second, JWKSRefreshInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}

	out := runBinary(t, "", "rotate-key", "--config", c.config)
	m := regexp.MustCompile(`kid (\S+)\.`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("rotate-key printed no kid:\n%s", out)
	}
	newKid := m[1]

	// Each round reads both JWKS, then takes a token from each replica.
	publishedBy := map[string]bool{}
	signedBy := map[string]bool{}
	rounds, verified := 0, 0
	deadline := time.Now().Add(60 * time.Second)
	for len(signedBy) < len(rs) {
		rounds++
		if time.Now().After(deadline) {
			t.Fatalf("after 60s, the new key signs at %v, is published by %v; want both", signedBy, publishedBy)
		}
		for _, r := range rs {
			if kids(t, r.base)[newKid] {
				publishedBy[r.base] = true
			}
		}
		for _, r := range rs {
			tok, err := c.bot(r.base).Token(ctx)
			if err != nil {
				t.Fatalf("client credentials at %s: %v", r.base, err)
			}
			kid, _ := decodeJWT(t, tok.AccessToken).header["kid"].(string)
			if kid == newKid {
				if len(publishedBy) < len(rs) {
					t.Fatalf("%s signed with the new key while only %v published it", r.base, publishedBy)
				}
				signedBy[r.base] = true
			}
			if _, err := verifier.Verify(ctx, tok.AccessToken); err != nil {
				t.Fatalf("the remote verifier refused a token of kid %s: %v", kid, err)
			}
			verified++
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the rotation took %d rounds; the remote verifier accepted all %d tokens", rounds, verified)
	for _, r := range rs {
		if got := kids(t, r.base); len(got) != 2 || !got[newKid] {
			t.Errorf("%s publishes %v after the rotation, want the new key and the old one", r.base, got)
		}
	}

	// Without the secret, a replica cannot open the keys and does not start.
	cfg, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	noSecret := filepath.Join(c.dir, "no-secret.yaml")
	writeFile(t, noSecret, strings.Replace(string(cfg), "  key_encryption_secret_file: kek\n", "", 1))
	p := startBinary(t, c.dir, "serve", "--config", noSecret, "--listen", freePort(t))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("a replica without the key-encryption secret kept running")
	}
	if p.err == nil || !strings.Contains(p.stderr.String(), "encrypted") {
		t.Errorf("a replica without the secret: %v, stderr %q; want a refusal that says the keys are encrypted", p.err, p.stderr.String())
	}

	for _, r := range c.replicas {
		for _, log := range []string{r.p.stdout.String(), r.p.stderr.String()} {
			if strings.Contains(log, "0123456789abcdef") {
				t.Errorf("the key-encryption secret reached the output of %s", r.base)
			}
		}
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// TestBinaryStoreKeysSQLite: with a SQLite store and no key file, the key
// is created in the database, and a restart signs with the same key.
func TestBinaryStoreKeysSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freePort(t)
	writeFile(t, filepath.Join(dir, "kek.secret"), strings.Repeat("k", 48)+"\n")
	writeFile(t, filepath.Join(dir, "keystile.yaml"), "issuer: http://"+addr+"\nlisten: "+addr+
		"\nstore: sqlite:keystile.db\nsigning:\n  algorithm: EdDSA\n  key_encryption_secret_file: kek.secret\nclients:\n  - id: app\n    public: true\n    redirect_uris: [https://app.example.test/cb]\n")
	var seen []map[string]bool
	for range 2 {
		p := startBinary(t, dir, "serve", "--config", filepath.Join(dir, "keystile.yaml"))
		p.waitOutput(listeningRe)
		seen = append(seen, kids(t, "http://"+addr))
		p.stop()
	}
	if len(seen[0]) != 1 || !mapsEqual(seen[0], seen[1]) {
		t.Errorf("JWKS before and after a restart: %v, %v; want the same single key", seen[0], seen[1])
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.pem")); len(matches) != 0 {
		t.Errorf("key files were written (%v), want the key in the database only", matches)
	}

	// keystile check opens the stored keys with the configured secret: the
	// right one passes, a wrong one is reported before serve would refuse.
	out, stderr, code := runBinaryIn(t, dir, "check", "--config", "keystile.yaml")
	if code != 0 || !strings.Contains(out, "all open with the configured secret") {
		t.Errorf("check with the right secret: exit %d\n%s%s", code, out, stderr)
	}
	writeFile(t, filepath.Join(dir, "kek.secret"), strings.Repeat("w", 48)+"\n")
	out, stderr, code = runBinaryIn(t, dir, "check", "--config", "keystile.yaml")
	if code != 1 || !strings.Contains(out+stderr, "signing keys in the store") {
		t.Errorf("check with a wrong secret: exit %d, want 1 and the stored keys named\n%s%s", code, out, stderr)
	}
}
