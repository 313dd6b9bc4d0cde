package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keystile/keystile/internal/testutil"
)

// runBinaryIn runs a short keystile command in dir, with no KEYSTILE_*
// variable of the developer's shell, and returns its output and exit code.
func runBinaryIn(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return testutil.RunKeystile(t, dir, []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}, "", args...)
}

// TestBinaryRefusesExposure: a server whose http issuer would be served to
// the network, or that believes anyone's X-Forwarded-For, does not start.
func TestBinaryRefusesExposure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keystile.yaml"), `issuer: http://127.0.0.1:9000
listen: 0.0.0.0:0
trusted_proxies: [0.0.0.0/0, "::/0"]
clients:
  - id: spa
    public: true
    redirect_uris: [https://app.example.com/callback]
`)
	_, stderr, code := runBinaryIn(t, dir, "serve", "--config", "keystile.yaml")
	if code != 1 {
		t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"3 problems", "0.0.0.0/0 trusts every address", "::/0 trusts every address", "listens on 0.0.0.0, but the issuer http://127.0.0.1:9000 is plain http"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

// TestBinaryPrivateFiles: the database the server creates, and its -wal
// and -shm files, are readable by their owner only; a key file that others
// can read is named in a warning at start.
func TestBinaryPrivateFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freePort(t)
	writeFile(t, filepath.Join(dir, "keystile.yaml"), fmt.Sprintf(`issuer: https://auth.example.com
listen: %s
store: sqlite:state/keystile.db
signing: {key_file: signing.pem}
clients:
  - id: spa
    public: true
    redirect_uris: [https://app.example.com/callback]
`, addr))
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A key made by the server, then copied with a tool that kept the
	// umask's 0644.
	_, stderr, code := runBinaryIn(t, dir, "rotate-key", "--config", "keystile.yaml")
	if code != 0 {
		t.Fatalf("rotate-key: exit %d\n%s", code, stderr)
	}
	if err := os.Chmod(filepath.Join(dir, "signing.pem"), 0o644); err != nil {
		t.Fatal(err)
	}

	p := startBinary(t, dir, "serve", "--config", "keystile.yaml")
	p.waitOutput(listeningRe)
	db := filepath.Join(dir, "state", "keystile.db")
	for _, name := range []string{db, db + "-wal", db + "-shm"} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mode := st.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(name), mode)
		}
	}
	p.stop()
	logs := p.stderr.String()
	if want := "signing.key_file: " + filepath.Join(dir, "signing.pem") + " is readable by other users (mode 0644): chmod 600"; !strings.Contains(logs, want) {
		t.Errorf("no warning %q at start:\n%s", want, logs)
	}
	if strings.Contains(logs, "keystile.db is readable") {
		t.Errorf("the database the server made itself is named as readable:\n%s", logs)
	}
}

// TestBinaryCheck: keystile check lists every problem of a configuration
// in one pass, an unknown key among them, and exits 1.
func TestBinaryCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keystile.yaml"), `issuer: https://auth.example.com
lisen: 127.0.0.1:9001
store: sqlite:no/such/dir/keystile.db
signing: {algorithm: RS257}
clients:
  - id: spa
    redirect_uris: [https://app.example.com/callback]
`)
	out, stderr, code := runBinaryIn(t, dir, "check", "--config", "keystile.yaml")
	if code != 1 || out != "" {
		t.Errorf("exit code %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, want := range []string{"3 problems", `line 2: unknown key "lisen"`, `signing.algorithm: "RS257" is not supported`, "clients[0]:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

// TestBinaryConfigNamesTheFileKeys: what only the library can judge (do
// the templates render, is the logo an image) is reported under the
// configuration's own keys, not the library's Go field names.
func TestBinaryConfigNamesTheFileKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, extra string
		files       map[string]string
		want        string
	}{
		{"an empty templates directory", "templates_dir: pages\n", map[string]string{"pages/README": "nothing here"}, "templates_dir " + "{dir}/pages holds none of the page templates"},
		{"a template that does not parse", "templates_dir: pages\n", map[string]string{"pages/login.html": "{{define \"content\"}}{{.Nope"}, "templates_dir {dir}/pages: "},
		{"a logo that is not an image", "branding: {logo_file: logo.svg}\n", map[string]string{"logo.svg": "not an image"}, "branding.logo_file {dir}/logo.svg "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, name), content)
			}
			writeFile(t, filepath.Join(dir, "keystile.yaml"), "issuer: https://auth.example.com\nstore: memory\nclients: []\n"+tc.extra)
			for _, command := range []string{"check", "serve"} {
				_, stderr, code := runBinaryIn(t, dir, command, "--config", "keystile.yaml")
				want := strings.ReplaceAll(tc.want, "{dir}", dir)
				if code != 1 || !strings.Contains(stderr, want) || strings.Contains(stderr, "Config.") {
					t.Errorf("%s: exit %d, stderr %q; want 1 and %q, no Go field", command, code, stderr, want)
				}
			}
		})
	}
}
