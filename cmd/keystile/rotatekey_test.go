package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/keyfile"
)

// jwksKids returns the key ids the server publishes.
func jwksKids(t *testing.T, url string) []string {
	t.Helper()
	resp := get(t, url)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decoding the JWKS: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}

// TestRotateKeyReachesRunningServer creates an ES256 key file at start,
// rotates it with `keystile rotate-key`, and checks that SIGHUP makes the
// running server publish both the new key and the retired one.
func TestRotateKeyReachesRunningServer(t *testing.T) {
	clearKeystileEnv(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing.pem")
	config := writeFile(t, dir, "keystile.yaml", spaOnly+"store: \"memory:\"\nsigning:\n  algorithm: ES256\n  key_file: signing.pem\n")
	s := start(t, "serve", "--config", config, "--listen", "127.0.0.1:0")

	before := jwksKids(t, s.base+"/.well-known/jwks.json")
	entries, err := keyfile.Load(keyFile)
	if err != nil || len(entries) != 1 || entries[0].Algorithm() != keystile.AlgES256 {
		t.Fatalf("key file created at start: %d entries, %v; want one ES256 key", len(entries), err)
	}
	if !slices.Equal(before, []string{entries[0].KeyID()}) {
		t.Fatalf("JWKS kids %v, want the key file's %s", before, entries[0].KeyID())
	}

	var out strings.Builder
	if code := run(context.Background(), []string{"rotate-key", "--config", config}, nil, &out, io.Discard); code != exitOK {
		t.Fatalf("rotate-key exit %d: %s", code, out.String())
	}
	rotated, err := keyfile.Load(keyFile)
	if err != nil || len(rotated) != 2 || rotated[1].KeyID() != entries[0].KeyID() {
		t.Fatalf("after rotate-key: %d entries, %v; want a new signer and the old key", len(rotated), err)
	}
	// The retirement is on disk: one Keystile-Retired header, on the old
	// key's block (the second).
	if pemText, _ := os.ReadFile(keyFile); strings.Count(string(pemText), "Keystile-Retired:") != 1 ||
		strings.Index(string(pemText), "Keystile-Retired:") < strings.Index(string(pemText), "-----END") {
		t.Fatalf("after rotate-key the file does not mark exactly the old key retired:\n%s", pemText)
	}
	if !strings.Contains(out.String(), rotated[0].KeyID()) || !strings.Contains(out.String(), "SIGHUP") {
		t.Errorf("rotate-key output %q lacks the new kid or how to reload", out.String())
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	want := []string{rotated[0].KeyID(), rotated[1].KeyID()}
	slices.Sort(want)
	// The reload runs on the signal's goroutine: wait for it to land.
	deadline := time.Now().Add(10 * time.Second)
	for got := jwksKids(t, s.base+"/.well-known/jwks.json"); !slices.Equal(got, want); got = jwksKids(t, s.base+"/.well-known/jwks.json") {
		if time.Now().After(deadline) {
			t.Fatalf("JWKS kids after SIGHUP = %v, want %v; logs:\n%s", got, want, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := s.stop(); code != exitOK {
		t.Errorf("exit code %d", code)
	}
}

func TestRotateKeyRefuses(t *testing.T) {
	clearKeystileEnv(t)
	for _, tc := range []struct {
		name, config string
		args         []string
		wantCode     int
		wantErr      string
	}{
		{"an HS256 secret", spaOnly + "signing:\n  algorithm: HS256\n  secret_file: hs.secret\n", nil, exitError, "signing.algorithm is HS256"},
		{"a keep shorter than the token lifetime", spaOnly + "signing:\n  algorithm: EdDSA\n  key_file: signing.pem\n", []string{"--keep", "1m"}, exitUsage, "--keep 1m0s is shorter than"},
		{"a keep with keys in the store", spaOnly + "signing:\n  algorithm: EdDSA\n", []string{"--keep", "1h"}, exitUsage, "--keep applies to key files"},
		{"a broken key file", spaOnly + "signing:\n  algorithm: EdDSA\n  key_file: broken.pem\n", nil, exitError, "broken.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "hs.secret", strongSecret)
			writeFile(t, dir, "broken.pem", "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
			config := writeFile(t, dir, "keystile.yaml", tc.config)
			var errOut strings.Builder
			code := run(context.Background(), append([]string{"rotate-key", "--config", config}, tc.args...), nil, io.Discard, &errOut)
			if code != tc.wantCode || !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut.String(), tc.wantCode, tc.wantErr)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "broken.pem")); !strings.Contains(string(b), "not base64") {
				t.Error("rotate-key overwrote a key file it could not read")
			}
		})
	}
}
