package tests

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestDiscovery: the RFC 8414 metadata names the configured issuer and
// endpoints under it, whatever Host or X-Forwarded-* headers the request
// carries (docs/security.md §8).
func TestDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{alg: "RS256"})
	cases := []struct {
		name   string
		host   string
		header http.Header
	}{
		{"plain request", "", nil},
		{"forged Host", "evil.example", nil},
		{"forged X-Forwarded-Host and proto", "", http.Header{"X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Proto": {"https"}, "Forwarded": {"host=evil.example;proto=https"}}},
		{"both", "evil.example:443", http.Header{"X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Prefix": {"/evil"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, e.issuer+"/.well-known/oauth-authorization-server", nil)
			if err != nil {
				t.Fatalf("new request: %v", err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, vs := range tc.header {
				req.Header[k] = vs
			}
			p := e.newBrowser().do(req)
			if p.status != http.StatusOK {
				t.Fatalf("metadata: %s", describe(p))
			}
			if strings.Contains(p.body, "evil") {
				t.Errorf("the metadata repeats a forged header:\n%s", p.body)
			}
			var md struct {
				Issuer                string   `json:"issuer"`
				AuthorizationEndpoint string   `json:"authorization_endpoint"`
				TokenEndpoint         string   `json:"token_endpoint"`
				JWKSURI               string   `json:"jwks_uri"`
				CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
				ResponseTypes         []string `json:"response_types_supported"`
				ISSParameter          bool     `json:"authorization_response_iss_parameter_supported"`
			}
			if err := json.Unmarshal([]byte(p.body), &md); err != nil {
				t.Fatalf("metadata is not JSON: %v", err)
			}
			want := map[string]string{
				"issuer":                 e.issuer,
				"authorization_endpoint": e.issuer + "/authorize",
				"token_endpoint":         e.issuer + "/token",
				"jwks_uri":               e.issuer + "/.well-known/jwks.json",
			}
			got := map[string]string{
				"issuer":                 md.Issuer,
				"authorization_endpoint": md.AuthorizationEndpoint,
				"token_endpoint":         md.TokenEndpoint,
				"jwks_uri":               md.JWKSURI,
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s = %q, want %q", k, got[k], w)
				}
			}
			if !slices.Equal(md.CodeChallengeMethods, []string{"S256"}) {
				t.Errorf("code_challenge_methods_supported %v, want [S256] only", md.CodeChallengeMethods)
			}
			if !slices.Equal(md.ResponseTypes, []string{"code"}) {
				t.Errorf("response_types_supported %v, want [code]", md.ResponseTypes)
			}
			if !md.ISSParameter {
				t.Errorf("authorization_response_iss_parameter_supported is false, but the server sends iss (RFC 9207)")
			}
		})
	}

	t.Run("the issuer in tokens and redirects ignores the Host header too", func(t *testing.T) {
		t.Parallel()
		// An error redirect is built from the issuer: send a forged Host with
		// a request that is redirected back with iss.
		req, err := http.NewRequestWithContext(testContext(t), http.MethodGet,
			e.issuer+"/authorize?response_type=code&client_id=spa&redirect_uri="+spaRedirect+"&state=s", nil)
		if err != nil {
			t.Fatalf("new request: %v", err)
		}
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		q := authResponse(t, e.newBrowser().do(req), spaRedirect)
		if q.Get("iss") != e.issuer {
			t.Errorf("iss=%q with a forged Host, want %q", q.Get("iss"), e.issuer)
		}
	})
}
