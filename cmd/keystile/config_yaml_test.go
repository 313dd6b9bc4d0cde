package main

import (
	"strings"
	"testing"
)

// TestConfigSyntaxErrorsNameTheLine: a YAML syntax error names the line it
// is on and the key there, not the line where the enclosing block began.
func TestConfigSyntaxErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{
			name:   "a client key indented one space short",
			config: "issuer: https://auth.example.com\nclients:\n  - id: spa\n    public: true\n   name: Photos\n",
			want:   []string{`line 5, key "name" in "clients":`, "indentation"},
		},
		{
			name:   "a signing key indented one space",
			config: "issuer: https://auth.example.com\nsigning:\n  algorithm: RS256\n key_file: k.pem\n",
			want:   []string{`line 4, key "key_file" in "signing":`, "indentation"},
		},
		{
			name:   "a tab",
			config: "issuer: https://auth.example.com\ntokens:\n  access_ttl: 15m\n\tcode_ttl: 60s\n",
			want:   []string{`line 4, key "code_ttl" in "tokens":`, "spaces, not tabs"},
		},
		{
			name:   "a list left open",
			config: "issuer: https://auth.example.com\nclients:\n  - id: spa\n    redirect_uris: [https://app.example.com/cb\n  - id: other\n",
			want:   []string{`line 4, key "redirect_uris" in "clients":`, "not closed with ]"},
		},
		{
			name:   "a quote left open",
			config: "issuer: https://auth.example.com\nlisten: \"127.0.0.1:9000\nstore: memory\n",
			want:   []string{`line 2, key "listen":`, "quote"},
		},
		{
			name:   "an unquoted colon on the first line",
			config: "issuer: Acme: sign in\n",
			want:   []string{`line 1, key "issuer":`, "must be quoted"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "keystile.yaml", tc.config)
			_, err := loadConfig(path, envMap(nil))
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestUsersFileSyntaxErrorNamesTheLine: the same for the users file.
func TestUsersFileSyntaxErrorNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "users.yaml", "users:\n  - username: alice\n    password_hash: x\n   claims: {role: admin}\n")
	path := writeFile(t, dir, "keystile.yaml", spaOnly+"users_file: users.yaml\n")
	_, err := loadConfig(path, envMap(nil))
	if err == nil || !strings.Contains(err.Error(), `users.yaml: line 4, key "claims" in "users":`) {
		t.Errorf("error %v, want line 4 and its key named", err)
	}
}

// TestConfigUnknownKeyHidesNothing: an unknown key is reported with every
// other problem of the file, in one pass.
func TestConfigUnknownKeyHidesNothing(t *testing.T) {
	config := `issuer: http://auth.example.com
lisen: 127.0.0.1:9000
log_level: chatty
tokens:
  access_tll: 15m
  code_ttl: 20m
clients:
  - id: spa
    redirect_uris: [javascript:alert(1)]
`
	path := writeFile(t, t.TempDir(), "keystile.yaml", config)
	_, err := loadConfig(path, envMap(nil))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, w := range []string{
		`line 2: unknown key "lisen"`,
		`line 5: unknown key "access_tll"`,
		"issuer:", "plain http",
		`log_level: "chatty"`,
		"tokens.code_ttl: 20m0s is out of range",
		"clients[0]:",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not report %q:\n%v", w, err)
		}
	}
}
