package check

import (
	"strings"
	"testing"
)

// TestIssuer is the rule New and the binary's config checker share. The
// bare "?" and "#" cases are where the two had drifted apart: url.Parse
// drops them, but relying parties compare the issuer as a string.
func TestIssuer(t *testing.T) {
	tests := []struct {
		raw     string
		wantErr string // "" accepts
	}{
		{"https://auth.example.com", ""},
		{"https://auth.example.com/tenant", ""},
		{"http://127.0.0.1:9000", ""},
		{"http://[::1]:9000", ""},
		{"http://localhost:9000", ""},
		{"", "not an absolute URL"},
		{"auth.example.com", "not an absolute URL"},
		{"https://auth.example.com?", "no query, fragment or userinfo"},
		{"https://auth.example.com#", "no query, fragment or userinfo"},
		{"https://auth.example.com?a=b", "no query, fragment or userinfo"},
		{"https://auth.example.com#frag", "no query, fragment or userinfo"},
		{"https://user@auth.example.com", "no query, fragment or userinfo"},
		{"https://auth.example.com/", `must not end with a slash: write "https://auth.example.com"`},
		{"http://auth.example.com", "plain http is allowed only on loopback"},
		{"http://10.0.0.1:9000", "plain http is allowed only on loopback"},
		{"ftp://auth.example.com", "must be an https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := Issuer(tt.raw)
			if tt.wantErr == "" {
				if err != nil || u == nil {
					t.Fatalf("Issuer(%q) = %v, %v; want it accepted", tt.raw, u, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Issuer(%q) error = %v, want one containing %q", tt.raw, err, tt.wantErr)
			}
		})
	}
}
