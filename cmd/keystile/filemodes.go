package main

import (
	"fmt"
	"os"
)

// secretFileWarnings names the files holding secrets that other users of
// the machine can read: the signing and ID-token keys, the HS256 secret
// and the SQLite database (user claims, sessions). Keystile writes them
// 0600 itself; a wider mode comes from a copy, an archive or a umask-bound
// tool, and deserves a warning rather than a refusal (a group-readable key
// may be meant for a backup agent).
func secretFileWarnings(s *settings) []string {
	files := []struct{ key, path string }{
		{"signing.key_file", s.KeyFile},
		{"signing.secret_file", s.SecretFile},
		{"signing.id_token_key_file", s.IDTokenKeyFile},
	}
	if s.Store.Kind == "sqlite" {
		files = append(files, struct{ key, path string }{"store", s.Store.Path})
	}
	var warnings []string
	for _, f := range files {
		if f.path == "" {
			continue
		}
		st, err := os.Stat(f.path)
		if err != nil || st.Mode().Perm()&0o077 == 0 {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("%s: %s is readable by other users (mode %#o): chmod 600 %s", f.key, f.path, st.Mode().Perm(), f.path))
	}
	return warnings
}
