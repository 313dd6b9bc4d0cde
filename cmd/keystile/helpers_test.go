package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/argon2"
)

// testHash is an argon2id PHC string of password with tiny parameters, made
// directly with x/crypto so that tests stay fast; the binary accepts any
// argon2id hash within its bounds.
func testHash(t testing.TB, password string) string {
	t.Helper()
	salt := []byte("test-salt-16byte")
	key := argon2.IDKey([]byte(password), salt, 1, 64, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// envMap is a getenv backed by a map, so config tests need not touch the
// process environment.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
