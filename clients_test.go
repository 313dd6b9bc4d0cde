package keystile

import (
	"strings"
	"testing"

	"github.com/keystile/keystile/password"
)

func TestMatchRedirectURI(t *testing.T) {
	c := &Client{ID: "c", RedirectURIs: []string{
		"https://app.example.com/cb",
		"https://app.example.com/cb?tenant=1",
		"http://127.0.0.1/native/cb",
		"http://[::1]:8080/cb",
		"http://localhost:3000/cb",
		"com.example.app:/oauth",
	}}
	tests := []struct {
		uri  string
		want bool
	}{
		{"https://app.example.com/cb", true},
		{"https://app.example.com/cb?tenant=1", true},
		{"https://app.example.com/cb?tenant=2", false},
		{"https://app.example.com/cb/", false},
		{"https://APP.example.com/cb", false},
		{"HTTPS://app.example.com/cb", false},
		{"https://app.example.com/CB", false},
		{"https://app.example.com/cb#x", false},
		{"https://app.example.com/cb/../cb", false},
		{"https://app.example.com/%63b", false},
		{"https://app.example.com:443/cb", false},
		{"https://app.example.com.evil.com/cb", false},
		{"https://evil.com/app.example.com/cb", false},
		{"https://app.example.com@evil.com/cb", false},
		{"https://user@app.example.com/cb", false},
		{"https://app.example.com/cbx", false},
		{"https://app.example.com/c", false},
		{"http://app.example.com/cb", false},
		{"https://app.example.com/cb ", false},
		{"", false},
		// RFC 8252 §7.3: a loopback IP literal may vary its port, nothing else.
		{"http://127.0.0.1/native/cb", true},
		{"http://127.0.0.1:51234/native/cb", true},
		{"http://127.0.0.1:51234/native/cb/", false},
		{"http://127.0.0.1:51234/native/cb?x=1", false},
		{"http://127.0.0.1:51234/native/cb#f", false},
		{"http://127.0.0.1:abc/native/cb", false},
		{"http://127.0.0.1:0/native/cb", false},
		{"http://127.0.0.1:080/native/cb", false},
		{"http://127.0.0.1:65535/native/cb", true},
		{"http://127.0.0.1:65536/native/cb", false},
		{"http://127.0.0.1:99999/native/cb", false},
		{"http://[::1]:0/cb", false},
		{"http://127.0.0.1:/native/cb", false},
		{"http://127.0.0.2:51234/native/cb", false},
		{"http://127.0.0.1:51234@evil.com/native/cb", false},
		{"https://127.0.0.1:51234/native/cb", false},
		{"http://[::1]:9999/cb", true},
		{"http://[::1]/cb", false},
		{"http://[0:0:0:0:0:0:0:1]:9999/cb", false},
		// localhost is a name, not a loopback IP literal: exact match only.
		{"http://localhost:3000/cb", true},
		{"http://localhost:3001/cb", false},
		{"com.example.app:/oauth", true},
		{"com.example.app://oauth", false},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			if got := c.matchRedirectURI(tt.uri); got != tt.want {
				t.Errorf("matchRedirectURI(%q) = %v, want %v", tt.uri, got, tt.want)
			}
		})
	}
}

func TestValidateClientRefusesBadRegistrations(t *testing.T) {
	ok := Client{ID: "spa", Public: true, RedirectURIs: []string{"https://app.example.com/cb"}}
	if err := ValidateClient(ok); err != nil {
		t.Fatalf("a good client was refused: %v", err)
	}
	tests := []struct {
		name string
		edit func(c *Client)
	}{
		{"empty id", func(c *Client) { c.ID = "" }},
		{"id with a newline", func(c *Client) { c.ID = "a\nb" }},
		{"javascript scheme", func(c *Client) { c.RedirectURIs = []string{"javascript:alert(1)"} }},
		{"data scheme", func(c *Client) { c.RedirectURIs = []string{"data:text/html,hi"} }},
		{"plain http off loopback", func(c *Client) { c.RedirectURIs = []string{"http://app.example.com/cb"} }},
		{"fragment", func(c *Client) { c.RedirectURIs = []string{"https://app.example.com/cb#x"} }},
		{"userinfo", func(c *Client) { c.RedirectURIs = []string{"https://u:p@app.example.com/cb"} }},
		{"relative", func(c *Client) { c.RedirectURIs = []string{"/cb"} }},
		{"custom scheme not reverse-domain", func(c *Client) { c.RedirectURIs = []string{"myapp:/cb"} }},
		{"no redirect URI", func(c *Client) { c.RedirectURIs = nil }},
		{"public with secret", func(c *Client) { c.SecretHash = password.HashClientSecret("x") }},
		{"confidential without secret", func(c *Client) { c.Public = false }},
		{"public client credentials", func(c *Client) { c.GrantTypes = []string{GrantClientCredentials} }},
		{"unknown grant", func(c *Client) { c.GrantTypes = []string{"password"} }},
		{"bad scope token", func(c *Client) { c.Scopes = []string{"a b"} }},
		{"origin with path", func(c *Client) { c.AllowedOrigins = []string{"https://app.example.com/"} }},
		{"http origin off loopback", func(c *Client) { c.AllowedOrigins = []string{"http://app.example.com"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if err := ValidateClient(c); err == nil {
				t.Errorf("ValidateClient accepted %+v", c)
			}
		})
	}
}

// TestValidateClientRefusesSlowSecretHashes: a client secret is a random
// 256-bit value, so a slow hash protects it no better than SHA-256 and lets
// anyone without credentials spend a password check per request at /token
// (issue 8, item 1). ValidateClient, and so New and the binary, refuse it
// and say how to make the right one.
func TestValidateClientRefusesSlowSecretHashes(t *testing.T) {
	slow := "$argon2id$v=19$m=65536,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY"
	c := Client{ID: "backend", SecretHash: slow, RedirectURIs: []string{"https://b.example.com/cb"}}
	err := ValidateClient(c)
	if err == nil || !strings.Contains(err.Error(), "keystile client-secret") {
		t.Fatalf("ValidateClient = %v, want a refusal naming keystile client-secret", err)
	}
	c.SecretHash = password.HashClientSecret("s")
	if err := ValidateClient(c); err != nil {
		t.Fatalf("ValidateClient with a sha256 hash: %v", err)
	}
}
