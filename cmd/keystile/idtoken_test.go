package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keystile/keystile/keyfile"
)

// openidClient is a client that may request openid.
const openidClient = `issuer: https://auth.example.com
clients:
  - id: spa
    public: true
    redirect_uris: [https://app.example.com/callback]
    scopes: [openid, profile]
`

// TestIDTokenKeyFileSetting: an HS256 deployment gets an RS256 ID token key
// file as soon as a client may request openid; other deployments sign ID
// tokens with their signing key unless the file is named.
func TestIDTokenKeyFileSetting(t *testing.T) {
	hs256 := "signing:\n  algorithm: HS256\n  secret_file: hs.secret\n"
	cases := []struct {
		name    string
		config  string
		env     map[string]string
		want    string // relative to the config's directory; "" for none
		wantErr string
	}{
		{name: "HS256 with an openid client gets the default file", config: openidClient + hs256, want: "keystile-id-token.pem"},
		{name: "HS256 without openid clients needs none", config: spaOnly + hs256},
		{name: "RS256 signs ID tokens with its own key", config: openidClient},
		{name: "named file", config: openidClient + hs256 + "  id_token_key_file: id.pem\n", want: "id.pem"},
		{name: "named file with RS256", config: openidClient + "signing:\n  id_token_key_file: id.pem\n", want: "id.pem"},
		{name: "from the environment", config: openidClient + hs256, env: map[string]string{"KEYSTILE_SIGNING_ID_TOKEN_KEY_FILE": "ENVDIR/env-id.pem"}, want: "env-id.pem"},
		{name: "directory missing", config: openidClient + hs256 + "  id_token_key_file: nowhere/id.pem\n", wantErr: "signing.id_token_key_file: directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "hs.secret", strongSecret)
			path := writeFile(t, dir, "keystile.yaml", tc.config)
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = strings.ReplaceAll(v, "ENVDIR", dir)
			}
			s, err := loadConfig(path, envMap(env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loadConfig: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			want := ""
			if tc.want != "" {
				want = filepath.Join(dir, tc.want)
			}
			if s.IDTokenKeyFile != want {
				t.Fatalf("IDTokenKeyFile %q, want %q", s.IDTokenKeyFile, want)
			}
		})
	}
}

// TestServeHS256CreatesIDTokenKey: `keystile serve` with HS256 and an
// openid client creates the RS256 ID token key, publishes it and announces
// RS256 ID tokens; a restart keeps the same key.
func TestServeHS256CreatesIDTokenKey(t *testing.T) {
	clearKeystileEnv(t)
	dir := t.TempDir()
	writeFile(t, dir, "hs.secret", strongSecret)
	config := writeFile(t, dir, "keystile.yaml", strings.Replace(openidClient, "https://auth.example.com", "http://127.0.0.1:9999", 1)+
		"store: \"memory:\"\nsigning:\n  algorithm: HS256\n  secret_file: hs.secret\n")
	keyPath := filepath.Join(dir, defaultIDTokenKeyFile)

	for run := range 2 {
		s := start(t, "serve", "--config", config, "--listen", "127.0.0.1:0")
		created := strings.Contains(s.stderr.String(), "created an ID token key file")
		if created != (run == 0) {
			t.Errorf("run %d: logged the creation of the key: %t", run, created)
		}
		st, err := os.Stat(keyPath)
		if err != nil {
			t.Fatalf("run %d: the ID token key file: %v", run, err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("the ID token key file has mode %v, want 0600", st.Mode().Perm())
		}
		keys, err := keyfile.Load(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		key := keys[0]

		var oidc struct {
			Algs []string `json:"id_token_signing_alg_values_supported"`
		}
		resp := get(t, s.base+"/.well-known/openid-configuration")
		if err := json.NewDecoder(resp.Body).Decode(&oidc); err != nil || !slices.Equal(oidc.Algs, []string{"RS256"}) {
			t.Errorf("id_token_signing_alg_values_supported %v (%v), want [RS256]", oidc.Algs, err)
		}
		var jwks struct {
			Keys []struct {
				Kid string `json:"kid"`
				Kty string `json:"kty"`
			} `json:"keys"`
		}
		resp = get(t, s.base+"/.well-known/jwks.json")
		if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
			t.Fatal(err)
		}
		if len(jwks.Keys) != 1 || jwks.Keys[0].Kid != key.KeyID() || jwks.Keys[0].Kty != "RSA" {
			t.Errorf("run %d: JWKS %+v, want the ID token key %s alone (never the HS256 secret)", run, jwks.Keys, key.KeyID())
		}
		if code := s.stop(); code != 0 {
			t.Fatalf("run %d: exit code %d; stderr:\n%s", run, code, s.stderr)
		}
	}
}
