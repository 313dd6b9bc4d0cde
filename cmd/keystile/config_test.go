package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/password"
	"github.com/keystile/keystile/store/memory"
)

// spaOnly is the smallest useful configuration.
const spaOnly = `issuer: https://auth.example.com
clients:
  - id: spa
    public: true
    redirect_uris: [https://app.example.com/callback]
`

const strongSecret = "0123456789abcdef0123456789abcdef-and-some-more"

func TestLoadConfig(t *testing.T) {
	aliceHash := testHash(t, "alice-pw")
	backendHash := password.HashClientSecret("backend-secret")
	users := "users:\n  - username: alice\n    password_hash: \"" + aliceHash + "\"\n    claims: {role: admin}\n"

	for _, tc := range []struct {
		name     string
		config   string
		files    map[string]string // more files in the configuration's directory
		env      map[string]string
		wantErr  []string // substrings of the error; none means it loads
		notInErr []string // what the error must never show
		check    func(t *testing.T, s *settings, dir string)
	}{
		{
			name:   "minimal file gets the documented defaults",
			config: spaOnly,
			check: func(t *testing.T, s *settings, dir string) {
				want := settings{
					Issuer: "https://auth.example.com", Listen: "127.0.0.1:9000",
					Store:     storeSpec{Kind: "sqlite", Path: filepath.Join(dir, "keystile.db")},
					Algorithm: "RS256", KeysInStore: true,
					StoreKeys: storeKeySettings{RotateEvery: 30 * 24 * time.Hour, Prepublish: 6 * time.Minute, Refresh: 30 * time.Second},
					AccessTTL: 15 * time.Minute, CodeTTL: 60 * time.Second, LogLevel: slog.LevelInfo, LogFlush: defaultLogFlush,
				}
				got := *s
				got.Clients, got.Users = nil, nil
				if !equalSettings(got, want) {
					t.Errorf("settings = %+v\nwant %+v", got, want)
				}
				if len(s.Clients) != 1 || s.Clients[0].ID != "spa" || !s.Clients[0].Public {
					t.Errorf("clients = %+v, want the public client spa", s.Clients)
				}
				if s.Users.Len() != 0 {
					t.Errorf("users = %d, want none", s.Users.Len())
				}
			},
		},
		{
			name:   "a key file at the old default place keeps the keys there",
			config: spaOnly,
			files:  map[string]string{"keystile-signing.pem": ""},
			check: func(t *testing.T, s *settings, dir string) {
				if s.KeysInStore || s.KeyFile != filepath.Join(dir, "keystile-signing.pem") {
					t.Errorf("keys in store %v, key file %q; want the existing file", s.KeysInStore, s.KeyFile)
				}
			},
		},
		{
			name:   "a memory store keeps the keys in the default file",
			config: spaOnly + "store: memory\n",
			check: func(t *testing.T, s *settings, dir string) {
				if s.KeysInStore || s.KeyFile != filepath.Join(dir, "keystile-signing.pem") {
					t.Errorf("keys in store %v, key file %q; want the default file", s.KeysInStore, s.KeyFile)
				}
			},
		},
		{
			name: "keys in the store: rotation, pre-publication, refresh, secret, drain",
			config: spaOnly + "signing:\n  algorithm: ES256\n  rotate_every: 168h\n  prepublish: 10m\n  refresh_every: 5s\n" +
				"  key_encryption_secret_file: kek\ndrain_delay: 7s\n",
			files: map[string]string{"kek": "0123456789abcdef0123456789abcdef\n"},
			check: func(t *testing.T, s *settings, dir string) {
				want := storeKeySettings{RotateEvery: 168 * time.Hour, Prepublish: 10 * time.Minute, Refresh: 5 * time.Second,
					Secret: []byte("0123456789abcdef0123456789abcdef")}
				if !s.KeysInStore || s.StoreKeys.RotateEvery != want.RotateEvery || s.StoreKeys.Prepublish != want.Prepublish ||
					s.StoreKeys.Refresh != want.Refresh || string(s.StoreKeys.Secret) != string(want.Secret) || s.DrainDelay != 7*time.Second {
					t.Errorf("store keys %+v, drain %s; want %+v and 7s", s.StoreKeys, s.DrainDelay, want)
				}
			},
		},
		{
			name:    "a weak key-encryption secret",
			config:  spaOnly,
			env:     map[string]string{envKeyEncryptionSecret: "short"},
			wantErr: []string{"the key-encryption secret is 5 bytes"},
		},
		{
			name:    "store-key settings with a key file",
			config:  spaOnly + "signing:\n  key_file: k.pem\n  rotate_every: 24h\n",
			wantErr: []string{"signing.rotate_every applies only to signing keys kept in the store"},
		},
		{
			name: "the design document's example",
			config: `issuer: https://auth.example.com
listen: 127.0.0.1:9100
store: sqlite:data/keystile.db
signing:
  algorithm: RS256
  key_file: keys/keystile-signing.pem
tokens:
  access_ttl: 15m
  code_ttl: 60s
users_file: users.yaml
clients:
  - id: spa
    public: true
    redirect_uris: [https://app.example.com/callback]
    allowed_origins: [https://app.example.com]
    scopes: [openid, profile, email, offline_access]
  - id: backend
    secret_hash: "` + backendHash + `"
    redirect_uris: [https://backend.example.com/oauth/callback]
    post_logout_redirect_uris: [https://backend.example.com/]
  - id: reports-bot
    secret_hash: "` + backendHash + `"
    grant_types: [client_credentials]
    scopes: ["reports:read"]
    claims: {role: reporter}
`,
			files: map[string]string{"users.yaml": users, "keys/.keep": "", "data/.keep": ""},
			check: func(t *testing.T, s *settings, dir string) {
				if s.Listen != "127.0.0.1:9100" {
					t.Errorf("listen = %q", s.Listen)
				}
				if s.Store.Path != filepath.Join(dir, "data", "keystile.db") {
					t.Errorf("store path = %q, want it relative to the config file", s.Store.Path)
				}
				if s.KeyFile != filepath.Join(dir, "keys", "keystile-signing.pem") {
					t.Errorf("key file = %q, want it relative to the config file", s.KeyFile)
				}
				ids := []string{}
				for _, c := range s.Clients {
					ids = append(ids, c.ID)
				}
				if !slices.Equal(ids, []string{"spa", "backend", "reports-bot"}) {
					t.Errorf("clients = %v", ids)
				}
				if got := s.Clients[1].PostLogoutRedirectURIs; !slices.Equal(got, []string{"https://backend.example.com/"}) {
					t.Errorf("backend post-logout redirect URIs = %v", got)
				}
				if got := s.Clients[2].Claims["role"]; got != "reporter" {
					t.Errorf("reports-bot claims role = %v", got)
				}
				if s.Users.Len() != 1 {
					t.Errorf("users = %d, want 1", s.Users.Len())
				}
			},
		},
		{
			name:   "single sign-on turned off",
			config: spaOnly + "tokens:\n  session_ttl: \"off\"\n",
			check: func(t *testing.T, s *settings, dir string) {
				if s.SessionTTL >= 0 {
					t.Errorf("session TTL = %s, want negative (off)", s.SessionTTL)
				}
			},
		},
		{
			name:    "refresh idle lifetime longer than the family's",
			config:  spaOnly + "tokens:\n  refresh_idle_ttl: 720h\n  refresh_max_ttl: 168h\n",
			wantErr: []string{"tokens.refresh_idle_ttl (720h0m0s) is longer than tokens.refresh_max_ttl (168h0m0s)"},
		},
		{
			name:    "unknown top-level key is named",
			config:  spaOnly + "isuer: https://typo.example.com\n",
			wantErr: []string{`line 6: unknown key "isuer"`},
		},
		{
			name:    "unknown key inside a client is named",
			config:  spaOnly + "    redirect_uri: https://app.example.com/other\n",
			wantErr: []string{`unknown key "redirect_uri"`},
		},
		{
			name:    "unknown key under signing is named",
			config:  spaOnly + "signing:\n  secret: abc\n",
			wantErr: []string{`unknown key "secret"`},
		},
		{
			name:    "duration without a unit",
			config:  spaOnly + "tokens:\n  access_ttl: 15\n",
			wantErr: []string{`tokens.access_ttl: "15" is not a duration`},
		},
		{
			name:    "duration that is not one",
			config:  spaOnly + "tokens:\n  code_ttl: a minute\n",
			wantErr: []string{`tokens.code_ttl: "a minute" is not a duration`},
		},
		{
			name:    "negative duration",
			config:  spaOnly + "tokens:\n  access_ttl: -5m\n",
			wantErr: []string{"tokens.access_ttl: -5m0s is out of range"},
		},
		{
			name:    "code lifetime over ten minutes",
			config:  spaOnly + "tokens:\n  code_ttl: 1h\n",
			wantErr: []string{"tokens.code_ttl: 1h0m0s is out of range"},
		},
		{
			name:   "environment overrides every scalar setting",
			config: spaOnly + "listen: 127.0.0.1:9100\nstore: sqlite:keystile.db\nlog_level: error\n",
			env: map[string]string{
				"KEYSTILE_ISSUER":                  "https://login.example.org",
				"KEYSTILE_AUDIENCE":                "https://api.example.org",
				"KEYSTILE_LISTEN":                  "127.0.0.1:9200",
				"KEYSTILE_STORE":                   "memory:",
				"KEYSTILE_SIGNING_ALGORITHM":       "HS256",
				"KEYSTILE_SIGNING_SECRET":          strongSecret,
				"KEYSTILE_TOKENS_ACCESS_TTL":       "5m",
				"KEYSTILE_TOKENS_CODE_TTL":         "30s",
				"KEYSTILE_TOKENS_LOGIN_TTL":        "5m",
				"KEYSTILE_TOKENS_SESSION_TTL":      "1h",
				"KEYSTILE_TOKENS_REFRESH_IDLE_TTL": "24h",
				"KEYSTILE_TOKENS_REFRESH_MAX_TTL":  "720h",
				"KEYSTILE_LOG_LEVEL":               "debug",
				"KEYSTILE_BRANDING_PRODUCT_NAME":   "Example Login",
			},
			check: func(t *testing.T, s *settings, dir string) {
				want := settings{
					Issuer: "https://login.example.org", Audience: "https://api.example.org",
					Listen: "127.0.0.1:9200", Store: storeSpec{Kind: "memory"},
					Algorithm: "HS256", HS256Secret: []byte(strongSecret),
					AccessTTL: 5 * time.Minute, CodeTTL: 30 * time.Second,
					LoginTTL: 5 * time.Minute, SessionTTL: time.Hour,
					RefreshIdleTTL: 24 * time.Hour, RefreshMaxTTL: 720 * time.Hour,
					LogLevel: slog.LevelDebug, LogFlush: defaultLogFlush, Branding: keystile.Branding{ProductName: "Example Login"},
				}
				got := *s
				got.Clients, got.Users = nil, nil
				if !equalSettings(got, want) {
					t.Errorf("settings = %+v\nwant %+v", got, want)
				}
			},
		},
		{
			name:   "trusted proxies from the file",
			config: spaOnly + "trusted_proxies: [10.0.0.0/8, 192.0.2.7, \"2001:db8::/32\"]\n",
			check: func(t *testing.T, s *settings, dir string) {
				want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
				if !slices.Equal(s.TrustedProxies, want) {
					t.Errorf("trusted proxies = %v, want %v", s.TrustedProxies, want)
				}
			},
		},
		{
			name:   "trusted proxies from the environment",
			config: spaOnly,
			env:    map[string]string{"KEYSTILE_TRUSTED_PROXIES": "127.0.0.1, ::1"},
			check: func(t *testing.T, s *settings, dir string) {
				if len(s.TrustedProxies) != 2 || s.TrustedProxies[1] != netip.MustParsePrefix("::1/128") {
					t.Errorf("trusted proxies = %v", s.TrustedProxies)
				}
			},
		},
		{
			name:    "a trusted proxy that is not an address",
			config:  spaOnly,
			env:     map[string]string{"KEYSTILE_TRUSTED_PROXIES": "proxy.internal"},
			wantErr: []string{`trusted_proxies (from KEYSTILE_TRUSTED_PROXIES): "proxy.internal" is not an address`},
		},
		{
			name:    "issuer with a trailing slash",
			config:  strings.Replace(spaOnly, "issuer: https://auth.example.com", "issuer: https://auth.example.com/", 1),
			wantErr: []string{`must not end with a slash: write "https://auth.example.com"`},
		},
		{
			name:   "environment names the users file and key file",
			config: spaOnly,
			files:  map[string]string{"elsewhere/users.yaml": users},
			env: map[string]string{
				"KEYSTILE_USERS_FILE":       "{dir}/elsewhere/users.yaml",
				"KEYSTILE_SIGNING_KEY_FILE": "{dir}/elsewhere/key.pem",
			},
			check: func(t *testing.T, s *settings, dir string) {
				if s.Users.Len() != 1 {
					t.Errorf("users = %d, want alice", s.Users.Len())
				}
				if s.KeyFile != filepath.Join(dir, "elsewhere", "key.pem") {
					t.Errorf("key file = %q", s.KeyFile)
				}
			},
		},
		{
			name:    "bad duration from the environment names the variable",
			config:  spaOnly,
			env:     map[string]string{"KEYSTILE_TOKENS_ACCESS_TTL": "soon"},
			wantErr: []string{`tokens.access_ttl (from KEYSTILE_TOKENS_ACCESS_TTL): "soon" is not a duration`},
		},
		{
			name:    "missing users file",
			config:  spaOnly + "users_file: users.yaml\n",
			wantErr: []string{"users_file: open ", "users.yaml: no such file"},
		},
		{
			name:    "missing HS256 secret file",
			config:  spaOnly + "signing:\n  algorithm: HS256\n  secret_file: hs256.secret\n",
			wantErr: []string{"signing.secret_file: open ", "hs256.secret: no such file"},
		},
		{
			name:     "weak HS256 secret in a file",
			config:   spaOnly + "signing:\n  algorithm: HS256\n  secret_file: hs256.secret\n",
			files:    map[string]string{"hs256.secret": "password1234\n"},
			wantErr:  []string{"signing.secret_file: the HS256 secret is 12 bytes, too weak"},
			notInErr: []string{"password1234"},
		},
		{
			name:     "weak HS256 secret in the environment",
			config:   spaOnly + "signing:\n  algorithm: HS256\n",
			env:      map[string]string{"KEYSTILE_SIGNING_SECRET": "short-secret"},
			wantErr:  []string{"KEYSTILE_SIGNING_SECRET: the HS256 secret is 12 bytes, too weak"},
			notInErr: []string{"short-secret"},
		},
		{
			name:   "HS256 secret file loses its final newline only",
			config: spaOnly + "signing:\n  algorithm: HS256\n  secret_file: hs256.secret\n",
			files:  map[string]string{"hs256.secret": strongSecret + "\n"},
			check: func(t *testing.T, s *settings, dir string) {
				if string(s.HS256Secret) != strongSecret {
					t.Errorf("secret = %q, want the file without its newline", s.HS256Secret)
				}
			},
		},
		{
			name:    "HS256 without any secret",
			config:  spaOnly + "signing:\n  algorithm: HS256\n",
			wantErr: []string{"signing.algorithm is HS256: set signing.secret_file"},
		},
		{
			name:     "HS256 secret given with RS256",
			config:   spaOnly,
			env:      map[string]string{"KEYSTILE_SIGNING_SECRET": strongSecret},
			wantErr:  []string{"signing.algorithm is RS256, but an HS256 secret is set"},
			notInErr: []string{strongSecret},
		},
		{
			name:    "unsupported algorithm",
			config:  spaOnly + "signing:\n  algorithm: none\n",
			wantErr: []string{`signing.algorithm: "none" is not supported`},
		},
		{
			name:    "key file in a missing directory",
			config:  spaOnly + "signing:\n  key_file: nowhere/key.pem\n",
			wantErr: []string{"signing.key_file: directory", "nowhere does not exist"},
		},
		{
			name:    "redirect URI over plain http off loopback",
			config:  strings.Replace(spaOnly, "https://app.example.com/callback", "http://app.example.com/callback", 1),
			wantErr: []string{"clients[0]:", "http://app.example.com/callback"},
		},
		{
			name:    "javascript redirect URI",
			config:  strings.Replace(spaOnly, "https://app.example.com/callback", `"javascript:alert(1)"`, 1),
			wantErr: []string{"clients[0]:", "javascript:alert(1)"},
		},
		{
			name:    "client claim the server sets itself",
			config:  spaOnly + "    claims: {role: bot, iss: https://evil.example.com}\n",
			wantErr: []string{"clients[0] (spa): claims:", `"iss" is set by the server`},
		},
		{
			name:    "relative redirect URI",
			config:  strings.Replace(spaOnly, "https://app.example.com/callback", "/callback", 1),
			wantErr: []string{"clients[0]:", `"/callback"`},
		},
		{
			name:    "confidential client without a secret hash",
			config:  spaOnly + "  - id: backend\n    redirect_uris: [https://b.example.com/cb]\n",
			wantErr: []string{"clients[1]:", "secret_hash"},
		},
		{
			name:     "client secret hash that is the secret itself",
			config:   spaOnly + "  - id: backend\n    secret_hash: my-plain-secret\n    redirect_uris: [https://b.example.com/cb]\n",
			wantErr:  []string{"clients[1]:", "secret_hash"},
			notInErr: []string{"my-plain-secret"},
		},
		{
			// Every wrong secret would cost a password check at /token, on
			// the slots the login form needs (issue 8, item 1).
			name:    "client secret hash that is a slow argon2id hash",
			config:  spaOnly + "  - id: backend\n    secret_hash: \"" + testHash(t, "backend-secret") + "\"\n    redirect_uris: [https://b.example.com/cb]\n",
			wantErr: []string{"clients[1]:", "secret_hash", "argon2id", "keystile client-secret"},
		},
		{
			name:    "duplicate client ids",
			config:  spaOnly + "  - id: spa\n    public: true\n    redirect_uris: [https://app.example.com/callback]\n",
			wantErr: []string{`clients[1]: client id "spa" is also clients[0]`},
		},
		{
			name:    "unknown store scheme",
			config:  spaOnly + "store: mysql://root:hunter2@db/keystile\n",
			wantErr: []string{`store: unknown store scheme "mysql"`},
			// A database URL holds a password: the error never repeats it.
			notInErr: []string{"hunter2"},
		},
		{
			name:   "postgres URL from the environment",
			config: spaOnly,
			env:    map[string]string{"KEYSTILE_STORE": "postgres://keystile:s3cr3t@db.internal/keystile"},
			check: func(t *testing.T, s *settings, dir string) {
				// The URL goes to the store untouched: not resolved like a path.
				if want := (storeSpec{Kind: "postgres", URL: "postgres://keystile:s3cr3t@db.internal/keystile"}); s.Store != want {
					t.Errorf("store = %+v, want %+v", s.Store, want)
				}
			},
		},
		{
			name:    "sqlite without a file",
			config:  spaOnly + "store: \"sqlite:\"\n",
			wantErr: []string{"store: sqlite: needs a file"},
		},
		{
			name:    "issuer over plain http off loopback",
			config:  strings.Replace(spaOnly, "https://auth.example.com", "http://auth.example.com", 1),
			wantErr: []string{"issuer:", "plain http is allowed only on loopback"},
		},
		{
			name:    "issuer missing",
			config:  "clients: []\n",
			wantErr: []string{"issuer is required"},
		},
		{
			name:    "empty file",
			config:  "",
			wantErr: []string{"issuer is required"},
		},
		{
			name:    "listen without a port",
			config:  spaOnly + "listen: localhost\n",
			wantErr: []string{`listen: "localhost" is not HOST:PORT`},
		},
		{
			name:    "unknown log level",
			config:  spaOnly + "log_level: chatty\n",
			wantErr: []string{`log_level: "chatty" is not one of debug, info, warn, error`},
		},
		{
			name:    "not YAML",
			config:  "issuer: [unclosed\n",
			wantErr: []string{"yaml:"},
		},
		{
			name:    "client id equal to a user's subject",
			config:  spaOnly + "users_file: users.yaml\n",
			files:   map[string]string{"users.yaml": strings.Replace(users, "username: alice", "username: spa", 1)},
			wantErr: []string{`client id "spa" is also the subject of user "spa"`},
		},
		{
			name:    "bad users file entry",
			config:  spaOnly + "users_file: users.yaml\n",
			files:   map[string]string{"users.yaml": "users:\n  - username: bob\n    password_hash: plain-text\n"},
			wantErr: []string{"users_file ", `users.yaml: users[0] ("bob"): password_hash:`},
			// The configured value is wrong, but it may be a real password.
			notInErr: []string{"plain-text"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, dir, name, content)
			}
			path := writeFile(t, dir, "keystile.yaml", tc.config)
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = strings.ReplaceAll(v, "{dir}", dir)
			}
			s, err := loadConfig(path, envMap(env))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				tc.check(t, s, dir)
				return
			}
			if err == nil {
				t.Fatalf("loadConfig succeeded, want an error with %q", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
			for _, secret := range tc.notInErr {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows %q", err, secret)
				}
			}
		})
	}
}

func TestLoadConfigListsEveryProblemOnItsOwnLine(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "keystile.yaml", `issuer: http://auth.example.com
store: redis:6379
signing:
  algorithm: HS256
  secret_file: missing.secret
tokens:
  access_ttl: 15
clients:
  - id: spa
    public: true
    redirect_uris: ["javascript:alert(1)"]
`)
	_, err := loadConfig(path, envMap(nil))
	if err == nil {
		t.Fatal("loadConfig succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	// A header, then issuer, store, secret file, access_ttl, clients[0].
	if len(lines) != 6 {
		t.Fatalf("error has %d lines, want a header and 5 problems:\n%v", len(lines), err)
	}
	for i, prefix := range []string{"issuer:", "store:", "signing.secret_file:", "tokens.access_ttl:", "clients[0]:"} {
		if got := strings.TrimSpace(lines[i+1]); !strings.HasPrefix(got, prefix) {
			t.Errorf("line %d = %q, want it to start with %q", i+1, got, prefix)
		}
	}
}

func TestLoadConfigRelativePaths(t *testing.T) {
	confDir := t.TempDir()
	workDir := t.TempDir()
	writeFile(t, confDir, "users.yaml", "users: []\n")
	writeFile(t, workDir, "env-users.yaml", "users: []\n")
	path := writeFile(t, confDir, "keystile.yaml", spaOnly+"users_file: users.yaml\nstore: sqlite:state/k.db\n")
	t.Chdir(workDir)

	t.Run("paths in the file are relative to the file", func(t *testing.T) {
		s, err := loadConfig(path, envMap(nil))
		if err != nil {
			t.Fatalf("loadConfig: %v", err)
		}
		if s.UsersFile != filepath.Join(confDir, "users.yaml") {
			t.Errorf("users file = %q, want it in %s", s.UsersFile, confDir)
		}
		if s.Store.Path != filepath.Join(confDir, "state", "k.db") {
			t.Errorf("store path = %q, want it in %s", s.Store.Path, confDir)
		}
	})
	t.Run("paths in the environment are relative to the working directory", func(t *testing.T) {
		s, err := loadConfig(path, envMap(map[string]string{
			"KEYSTILE_USERS_FILE": "env-users.yaml",
			"KEYSTILE_STORE":      "sqlite:env.db",
		}))
		if err != nil {
			t.Fatalf("loadConfig: %v", err)
		}
		if s.UsersFile != filepath.Join(workDir, "env-users.yaml") {
			t.Errorf("users file = %q, want it in %s", s.UsersFile, workDir)
		}
		if s.Store.Path != filepath.Join(workDir, "env.db") {
			t.Errorf("store path = %q, want it in %s", s.Store.Path, workDir)
		}
	})
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := loadConfig(filepath.Join(t.TempDir(), "nope.yaml"), envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("loadConfig(missing) = %v, want a not-exist error naming the file", err)
	}
}

// equalSettings compares the scalar settings.
func equalSettings(a, b settings) bool {
	return a.Issuer == b.Issuer && a.Audience == b.Audience && a.Listen == b.Listen &&
		a.Store == b.Store && a.Algorithm == b.Algorithm && a.KeyFile == b.KeyFile &&
		a.KeysInStore == b.KeysInStore && a.StoreKeys.RotateEvery == b.StoreKeys.RotateEvery &&
		a.StoreKeys.Prepublish == b.StoreKeys.Prepublish && a.StoreKeys.Refresh == b.StoreKeys.Refresh &&
		string(a.StoreKeys.Secret) == string(b.StoreKeys.Secret) && a.DrainDelay == b.DrainDelay &&
		string(a.HS256Secret) == string(b.HS256Secret) && a.AccessTTL == b.AccessTTL &&
		a.CodeTTL == b.CodeTTL && a.LoginTTL == b.LoginTTL && a.SessionTTL == b.SessionTTL &&
		a.RefreshIdleTTL == b.RefreshIdleTTL && a.RefreshMaxTTL == b.RefreshMaxTTL && a.UsersFile == b.UsersFile && a.LogLevel == b.LogLevel &&
		a.Branding.ProductName == b.Branding.ProductName
}

// TestLoginThrottleSettings: login_throttle: reaches keystile.Config, from
// the file or the environment; empty settings leave the library's
// defaults; nonsense is refused with the key's name (issue 8, item 2).
func TestLoginThrottleSettings(t *testing.T) {
	dir := t.TempDir()
	load := func(extra string, env map[string]string) (*settings, error) {
		path := writeFile(t, dir, "keystile.yaml", spaOnly+extra)
		return loadConfig(path, envMap(env))
	}
	s, err := load("", nil)
	if err != nil || s.LoginThrottle != (keystile.LoginThrottle{}) {
		t.Fatalf("no login_throttle: %+v, %v; want the zero value (the library's defaults)", s.LoginThrottle, err)
	}
	s, err = load("login_throttle:\n  attempts: 3\n  max_delay: 5m\n  daily_limit: 50\n  per_address: 10\n  known_device_ttl: 168h\n",
		map[string]string{"KEYSTILE_LOGIN_THROTTLE_PER_ADDRESS": "12"})
	want := keystile.LoginThrottle{Attempts: 3, MaxDelay: 5 * time.Minute, DailyLimit: 50, PerAddress: 12, KnownDeviceTTL: 168 * time.Hour}
	if err != nil || s.LoginThrottle != want {
		t.Fatalf("login_throttle = %+v, %v; want %+v", s.LoginThrottle, err, want)
	}
	s, err = load("login_throttle:\n  known_device_ttl: \"off\"\n", nil)
	if err != nil || s.LoginThrottle.KnownDeviceTTL >= 0 {
		t.Fatalf("known_device_ttl: off = %+v, %v", s.LoginThrottle, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"login_throttle:\n  attempts: -1\n", "login_throttle.attempts"},
		{"login_throttle:\n  attempts: many\n", "login_throttle.attempts"},
		{"login_throttle:\n  max_delay: 10\n", "login_throttle.max_delay"},
		{"login_throttle:\n  per_address: 0\n", "login_throttle.per_address"},
		{"login_throttle:\n  daily_limit: 4\n", "login_throttle.daily_limit (4) is below login_throttle.attempts (5)"},
		{"login_throttle:\n  atempts: 5\n", `unknown key "atempts"`},
	} {
		if _, err := load(tc.yaml, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to name %q", tc.yaml, err, tc.want)
		}
	}
	// The binary's default attempts are the library's.
	if _, err := keystile.New(keystile.Config{Issuer: "https://auth.example.com", Store: memory.New(), Keys: []keystile.SigningKey{testHSKey(t)},
		ValidateUser:  func(context.Context, string, string) (keystile.Identity, error) { return keystile.Identity{}, nil },
		LoginThrottle: keystile.LoginThrottle{DailyLimit: defaultLoginAttempts}}); err != nil {
		t.Errorf("the library refuses daily_limit = the binary's default attempts (%d): %v", defaultLoginAttempts, err)
	}
	if _, err := keystile.New(keystile.Config{Issuer: "https://auth.example.com", Store: memory.New(), Keys: []keystile.SigningKey{testHSKey(t)},
		ValidateUser:  func(context.Context, string, string) (keystile.Identity, error) { return keystile.Identity{}, nil },
		LoginThrottle: keystile.LoginThrottle{DailyLimit: defaultLoginAttempts - 1}}); err == nil {
		t.Errorf("the library's default attempts are not the binary's (%d)", defaultLoginAttempts)
	}
}

func testHSKey(t *testing.T) keystile.SigningKey {
	t.Helper()
	k, err := keystile.NewSigningKey([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestLogFlushSetting: log_flush (or KEYSTILE_LOG_FLUSH) sets how long
// request lines may wait to be written; "off" writes each at once; the
// default is defaultLogFlush; nonsense is refused with the key's name.
func TestLogFlushSetting(t *testing.T) {
	dir := t.TempDir()
	load := func(extra string, env map[string]string) (*settings, error) {
		path := writeFile(t, dir, "keystile.yaml", spaOnly+extra)
		return loadConfig(path, envMap(env))
	}
	for _, tc := range []struct {
		yaml string
		env  map[string]string
		want time.Duration
	}{
		{"", nil, defaultLogFlush},
		{"log_flush: 1s\n", nil, time.Second},
		{"log_flush: \"off\"\n", nil, 0},
		{"log_flush: 1s\n", map[string]string{"KEYSTILE_LOG_FLUSH": "off"}, 0},
	} {
		s, err := load(tc.yaml, tc.env)
		if err != nil {
			t.Errorf("%q %v: %v", tc.yaml, tc.env, err)
		} else if s.LogFlush != tc.want {
			t.Errorf("%q %v: log flush %v, want %v", tc.yaml, tc.env, s.LogFlush, tc.want)
		}
	}
	for _, bad := range []string{"log_flush: 0s\n", "log_flush: 1m\n", "log_flush: soon\n"} {
		if _, err := load(bad, nil); err == nil || !strings.Contains(err.Error(), "log_flush") {
			t.Errorf("%q: err = %v, want it to name log_flush", bad, err)
		}
	}
}
