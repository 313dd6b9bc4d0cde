package keystile

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestMetadataURL(t *testing.T) {
	for resource, want := range map[string]string{
		"https://api.example.com":          "https://api.example.com/.well-known/oauth-protected-resource",
		"https://api.example.com/":         "https://api.example.com/.well-known/oauth-protected-resource",
		"https://api.example.com/mcp":      "https://api.example.com/.well-known/oauth-protected-resource/mcp",
		"https://api.example.com/a/b/":     "https://api.example.com/.well-known/oauth-protected-resource/a/b",
		"http://127.0.0.1:8080/mcp?t=1":    "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp?t=1",
		"urn:example:calendar":             "",
		"https://user@api.example.com/mcp": "",
	} {
		if got := metadataFor(resource, nil, "https://as.example").url; got != want {
			t.Errorf("%s: metadata at %q, want %q", resource, got, want)
		}
	}
}

func TestVerifierResource(t *testing.T) {
	e := newResourceEnv(t)
	photos, err := e.srv.ResourceVerifier(photosAPI)
	if err != nil {
		t.Fatal(err)
	}
	api := http.NewServeMux()
	api.Handle("/.well-known/oauth-protected-resource/", photos.ProtectedResourceMetadata())
	api.Handle("/api/write", photos.Middleware(RequireClaim("scope", "photos:write")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))))
	srv := httptest.NewServer(api)
	defer srv.Close()
	const meta = `resource_metadata="https://photos.example.com/.well-known/oauth-protected-resource/api"`

	t.Run("metadata", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/.well-known/oauth-protected-resource/api")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			ScopesSupported      []string `json:"scopes_supported"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d, %v", resp.StatusCode, err)
		}
		if doc.Resource != photosAPI || !slices.Equal(doc.AuthorizationServers, []string{e.issuer}) ||
			!slices.Equal(doc.ScopesSupported, []string{"photos:read", "photos:write"}) {
			t.Errorf("metadata %+v", doc)
		}
		for _, path := range []string{"/.well-known/oauth-protected-resource/other", "/.well-known/oauth-protected-resource/"} {
			if resp, _ := http.Get(srv.URL + path); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", path, resp.StatusCode)
			}
		}
	})
	call := func(tok string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/write", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	readOnly := e.token(resourceExchange("spa", e.resourceCode("spa", "photos:read", ""), ""), nil).AccessToken
	writer := e.token(resourceExchange("spa", e.resourceCode("spa", "photos:write", ""), ""), nil).AccessToken
	calendar := e.token(resourceExchange("multi", e.resourceCode("multi", "cal:read", calendarAPI), ""), nil).AccessToken
	for _, tc := range []struct {
		name, tok, challenge string
		status               int
	}{
		{"no token", "", `Bearer realm="keystile", ` + meta, 401},
		{"token for another resource", calendar, `error="invalid_token"`, 401},
		{"missing scope", readOnly, `error="insufficient_scope"`, 403},
		{"granted", writer, "", 200},
	} {
		resp := call(tc.tok)
		got := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != tc.status || !strings.Contains(got, tc.challenge) || (tc.status != 200 && !strings.Contains(got, meta)) {
			t.Errorf("%s: %d %q, want %d with %q and %s", tc.name, resp.StatusCode, got, tc.status, tc.challenge, meta)
		}
		if tc.status == 403 && !strings.Contains(got, `scope="photos:write"`) {
			t.Errorf("%s: the challenge %q does not name the missing scope", tc.name, got)
		}
	}
}

func TestNewVerifierResource(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	for name, cfg := range map[string]VerifierConfig{
		"relative":       {Resource: "/api"},
		"fragment":       {Resource: photosAPI + "#x"},
		"other audience": {Resource: photosAPI, Audience: calendarAPI},
		"bad scope":      {Resource: photosAPI, ScopesSupported: []string{`a"b`}},
		"scopes alone":   {ScopesSupported: []string{"a"}},
	} {
		cfg.Issuer, cfg.HS256Secret = "https://as.example", secret
		if _, err := NewVerifier(cfg); err == nil {
			t.Errorf("%s: NewVerifier accepted %+v", name, cfg)
		}
	}
	v, err := NewVerifier(VerifierConfig{Issuer: "https://as.example", HS256Secret: secret, Resource: photosAPI})
	if err != nil || !slices.Equal(v.audiences, []string{photosAPI}) {
		t.Fatalf("NewVerifier: %v, audiences %v", err, v.audiences)
	}
}

func TestCapabilityClosure(t *testing.T) {
	cc, err := compileCapabilities(Capabilities{Claim: "caps", Graph: map[string][]string{
		"read": {}, "write": {"read"}, "moderate": {"read", "write"}, "admin": {"moderate", "user_management"}, "user_management": {},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		held any
		want any
	}{
		{"admin", []string{"admin", "moderate", "read", "user_management", "write"}},
		{[]any{"write", "read"}, []string{"read", "write"}},
		{[]string{"moderate"}, []string{"moderate", "read", "write"}},
		{[]any{"unknown", "read"}, []string{"read", "unknown"}}, // passes through, implies nothing
		{42, 42},                             // not capabilities: left as it is
		{[]any{"read", 1}, []any{"read", 1}}, // idem
	} {
		in := map[string]any{"caps": tc.held, "role": "x"}
		got := cc.expand(in)
		b1, _ := json.Marshal(got["caps"])
		b2, _ := json.Marshal(tc.want)
		if string(b1) != string(b2) || got["role"] != "x" {
			t.Errorf("expand(%v) = %v, want %v", tc.held, got, tc.want)
		}
		if _, ok := in["caps"].(string); ok && in["caps"] != tc.held {
			t.Errorf("expand changed its input")
		}
	}
}
