package keystile

import (
	"context"
	"crypto/rand"
	"net/netip"
	"strings"
	"testing"

	"github.com/keystile/keystile/store/memory"
)

func mustHS256(t testing.TB) SigningKey {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	k, err := NewSigningKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewNamesTheBadField(t *testing.T) {
	key := mustHS256(t)
	base := func() Config {
		return Config{
			Issuer:  "https://auth.example.com",
			Clients: []Client{{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect}}},
			Store:   memory.New(),
			Keys:    []SigningKey{key},
			ValidateUser: func(context.Context, string, string) (Identity, error) {
				return Identity{}, ErrInvalidCredentials
			},
		}
	}
	if _, err := New(base()); err != nil {
		t.Fatalf("a good config was refused: %v", err)
	}
	tests := []struct {
		name, want string
		edit       func(c *Config)
	}{
		{"no issuer", "Issuer", func(c *Config) { c.Issuer = "" }},
		{"http issuer off loopback", "Issuer", func(c *Config) { c.Issuer = "http://auth.example.com" }},
		{"issuer with query", "Issuer", func(c *Config) { c.Issuer = "https://auth.example.com?x=1" }},
		{"issuer with an empty query", "Issuer", func(c *Config) { c.Issuer = "https://auth.example.com?" }},
		{"issuer with an empty fragment", "Issuer", func(c *Config) { c.Issuer = "https://auth.example.com#" }},
		{"relative issuer", "Issuer", func(c *Config) { c.Issuer = "/auth" }},
		{"issuer with a trailing slash", "Issuer", func(c *Config) { c.Issuer = "https://auth.example.com/" }},
		{"one origin for two clients", "allowed origin", func(c *Config) {
			c.Clients[0].AllowedOrigins = []string{"https://app.example.com"}
			c.Clients = append(c.Clients, Client{ID: "spa2", Public: true, RedirectURIs: []string{spaRedirect}, AllowedOrigins: []string{"https://app.example.com"}})
		}},
		{"no store", "Store", func(c *Config) { c.Store = nil }},
		{"no keys", "Keys", func(c *Config) { c.Keys = nil }},
		{"no callback", "ValidateUser", func(c *Config) { c.ValidateUser = nil }},
		{"bad client", "Clients[0]", func(c *Config) { c.Clients[0].RedirectURIs = []string{"javascript:x"} }},
		{"duplicate client", "duplicate", func(c *Config) { c.Clients = append(c.Clients, c.Clients[0]) }},
		{"negative TTL", "TTL", func(c *Config) { c.CodeTTL = -1 }},
		{"catch-all trusted proxies", "TrustedProxies[1]", func(c *Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::/0")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(&c)
			_, err := New(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() error = %v, want one naming %q", err, tt.want)
			}
		})
	}
}
