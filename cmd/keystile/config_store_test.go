package main

import (
	"strings"
	"testing"
)

// TestStoreMemorySpelling: `store: memory:` is what the docs' "memory:"
// looks like unquoted, and YAML cannot parse it; the error says to quote it,
// and `store: memory` needs no quotes at all.
func TestStoreMemorySpelling(t *testing.T) {
	clearKeystileEnv(t)
	for _, tc := range []struct {
		name    string
		config  string
		env     map[string]string
		wantErr string // "" for a memory store
		notErr  string // a hint the error must not carry
	}{
		{name: "memory without a colon", config: spaOnly + "store: memory\n"},
		{name: "memory: quoted", config: spaOnly + "store: \"memory:\"\n"},
		{name: "memory from the environment", config: spaOnly, env: map[string]string{"KEYSTILE_STORE": "memory"}},
		{name: "memory: unquoted", config: spaOnly + "store: memory:\n", wantErr: `must be quoted: write store: "memory:", or store: memory`},
		{name: "memory: unquoted on the first line", config: "store: memory:\n" + spaOnly, wantErr: `store: "memory:"`},
		{name: "a sqlite path with a colon and a space", config: spaOnly + "store: sqlite:a: b\n", wantErr: "must be quoted"},
		{name: "another key's colon gets no store hint", config: spaOnly + "product_name: Acme: sign in\n", wantErr: "mapping values are not allowed", notErr: `store: "memory:"`},
		{name: "memory with something after the colon", config: spaOnly + "store: \"memory:x\"\n", wantErr: "memory: takes nothing after the colon"},
		{name: "no scheme at all", config: spaOnly + "store: keystile.db\n", wantErr: "must be sqlite:PATH, postgres://… or memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, "keystile.yaml", tc.config)
			s, err := loadConfig(path, envMap(tc.env))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				if s.Store.Kind != "memory" {
					t.Errorf("store kind %q, want memory", s.Store.Kind)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("loadConfig: %v, want an error containing %q", err, tc.wantErr)
			}
			if tc.notErr != "" && strings.Contains(err.Error(), tc.notErr) {
				t.Errorf("loadConfig: %v, which should not mention %q", err, tc.notErr)
			}
		})
	}
}
