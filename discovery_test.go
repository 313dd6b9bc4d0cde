package keystile

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

func TestMetadataComesFromConfigNotRequest(t *testing.T) {
	e := newTestEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/.well-known/oauth-authorization-server", nil)
	req.Host = "evil.example.com"
	req.Header.Set("X-Forwarded-Host", "evil.example.com")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(readBody(t, resp)), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"issuer":                 e.issuer,
		"authorization_endpoint": e.issuer + "/authorize",
		"token_endpoint":         e.issuer + "/token",
		"jwks_uri":               e.issuer + "/.well-known/jwks.json",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %s", k, m[k], v)
		}
	}
	methods, _ := m["code_challenge_methods_supported"].([]any)
	if len(methods) != 1 || methods[0] != "S256" {
		t.Errorf("code_challenge_methods_supported = %v, want [S256] only", methods)
	}
	if m["authorization_response_iss_parameter_supported"] != true {
		t.Error("RFC 9207 support not advertised")
	}
	scopes, _ := m["scopes_supported"].([]any)
	if !slices.Contains(scopes, any("read")) {
		t.Errorf("scopes_supported = %v, want the clients' scopes", scopes)
	}
}

// TestHeadWorksWhereGetDoes: HEAD answers like GET without a body (RFC 9110
// §9.3.2), for health checks.
func TestHeadWorksWhereGetDoes(t *testing.T) {
	e := newTestEnv(t)
	for _, path := range []string{"/.well-known/jwks.json", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		resp, err := http.Head(e.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") == "" {
			t.Errorf("HEAD %s: status %d, Content-Type %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}
