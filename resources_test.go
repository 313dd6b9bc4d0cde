package keystile

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/keystile/keystile/password"
)

const (
	photosAPI   = "https://photos.example.com/api"
	calendarAPI = "urn:example:calendar"
)

// newResourceEnv is a server with two resources: photos (its scopes, role
// and groups) and calendar (its scope, email and capabilities); spa may use
// photos, multi both, spa2 none, and the service account calendar.
func newResourceEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvWith(t, func(cfg *Config) {
		cfg.Resources = []Resource{
			{ID: photosAPI, Scopes: []string{"photos:read", "photos:write"}, Claims: []string{"role", "groups"}},
			{ID: calendarAPI, Scopes: []string{"cal:read"}, Claims: []string{"email", "caps"}},
		}
		cfg.Capabilities = Capabilities{Claim: "caps", Graph: map[string][]string{
			"read": {}, "write": {"read"}, "admin": {"write", "users"}, "users": {},
		}}
		user := Identity{Subject: "alice", Claims: map[string]any{"role": "admin", "groups": []any{"staff"}, "email": "alice@example.com", "caps": []any{"admin"}}}
		cfg.ValidateUser = func(ctx context.Context, username, pw string) (Identity, error) {
			if username == "alice" && pw == testPassword {
				return user, nil
			}
			return Identity{}, ErrInvalidCredentials
		}
		cfg.LookupUser = func(ctx context.Context, subject string) (Identity, error) { return user, nil }
		scopes := []string{"openid", "email", "photos:read", "photos:write", "cal:read"}
		cfg.Clients = []Client{
			{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect}, Scopes: scopes, Resources: []string{photosAPI}},
			{ID: "multi", Public: true, RedirectURIs: []string{spaRedirect}, Scopes: scopes, Resources: []string{photosAPI, calendarAPI}},
			{ID: "spa2", Public: true, RedirectURIs: []string{spaRedirect}, Scopes: scopes},
			{ID: "svc", SecretHash: password.HashClientSecret(testClientSecret), GrantTypes: []string{GrantClientCredentials},
				Scopes: []string{"cal:read", "photos:read"}, Resources: []string{calendarAPI}, Claims: map[string]any{"email": "svc@example.com", "caps": "write", "role": "admin"}},
		}
	})
}

// resourceCode signs alice in for client with scope and, unless "", the
// resource parameter, and returns the code.
func (e *testEnv) resourceCode(client, scope, resource string) string {
	e.t.Helper()
	q := authorizeQuery()
	q.Set("client_id", client)
	q.Set("scope", scope)
	if resource != "" {
		q.Set("resource", resource)
	}
	code := e.login(e.browser(), q).Query().Get("code")
	if code == "" {
		e.t.Fatalf("no code for %s %q %q", client, scope, resource)
	}
	return code
}

func resourceExchange(client, code, resource string) url.Values {
	f := exchangeForm(code)
	f.Set("client_id", client)
	if resource != "" {
		f.Set("resource", resource)
	}
	return f
}

// accessClaims verifies tok whatever its audience and returns its claims.
func (e *testEnv) accessClaims(tok string) Claims {
	e.t.Helper()
	c, err := e.srv.issued.Verify(e.t.Context(), tok)
	if err != nil {
		e.t.Fatalf("verify: %v", err)
	}
	return c
}

func TestResourceTokens(t *testing.T) {
	e := newResourceEnv(t)
	cases := []struct {
		name, client, scope, authzResource, tokenResource string
		wantAud, wantScope                                string
		wantClaims, noClaims                              []string
	}{
		{name: "one resource, named", client: "spa", scope: "openid photos:read", authzResource: photosAPI,
			wantAud: photosAPI, wantScope: "photos:read", wantClaims: []string{"role", "groups"}, noClaims: []string{"email", "caps"}},
		{name: "one resource, omitted everywhere", client: "spa", scope: "openid photos:read cal:read",
			wantAud: photosAPI, wantScope: "photos:read", wantClaims: []string{"role", "groups"}, noClaims: []string{"email", "caps"}},
		{name: "two resources, picked at /token", client: "multi", scope: "openid photos:read cal:read", tokenResource: calendarAPI,
			wantAud: calendarAPI, wantScope: "cal:read", wantClaims: []string{"email", "caps"}, noClaims: []string{"role", "groups"}},
		{name: "two resources, none picked: the default audience", client: "multi", scope: "openid email photos:read cal:read",
			wantScope: "openid email", noClaims: []string{"role", "groups", "email", "caps"}},
		// The audit's case: a client without resources asking for openid
		// gets no custom claim and no API's scope.
		{name: "client without resources", client: "spa2", scope: "openid photos:read",
			wantScope: "openid", noClaims: []string{"role", "groups", "email", "caps"}},
		{name: "default audience named", client: "spa", scope: "openid photos:read", tokenResource: "AUDIENCE",
			wantScope: "openid", noClaims: []string{"role", "groups"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tokenResource == "AUDIENCE" {
				tc.tokenResource = e.issuer
			}
			a := e.token(resourceExchange(tc.client, e.resourceCode(tc.client, tc.scope, tc.authzResource), tc.tokenResource), nil)
			if a.status != http.StatusOK {
				t.Fatalf("exchange: %+v", a)
			}
			if a.Scope != tc.wantScope {
				t.Errorf("response scope %q, want %q", a.Scope, tc.wantScope)
			}
			c := e.accessClaims(a.AccessToken)
			wantAud := tc.wantAud
			if wantAud == "" {
				wantAud = e.issuer
			}
			if c["aud"] != wantAud || c["scope"] != nil && c["scope"] != tc.wantScope {
				t.Errorf("aud %v scope %v, want %q %q", c["aud"], c["scope"], wantAud, tc.wantScope)
			}
			for _, k := range tc.wantClaims {
				if _, ok := c[k]; !ok {
					t.Errorf("claim %s missing: %v", k, c)
				}
			}
			for _, k := range tc.noClaims {
				if _, ok := c[k]; ok {
					t.Errorf("claim %s = %v must not be in a token for %v", k, c[k], c["aud"])
				}
			}
			if caps, ok := c["caps"]; ok && !slices.Equal(toStrings(caps), []string{"admin", "read", "users", "write"}) {
				t.Errorf("caps %v, want the closure of admin", caps)
			}
		})
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestResourceInvalidTarget(t *testing.T) {
	e := newResourceEnv(t)
	t.Run("authorize", func(t *testing.T) {
		for name, res := range map[string]string{
			"unknown":          "https://other.example.com/api",
			"not the client's": calendarAPI,
			"relative":         "/api",
			"fragment":         photosAPI + "#x",
			"not a URI":        "photos api",
		} {
			q := authorizeQuery()
			q.Set("scope", "openid photos:read")
			q.Set("resource", res)
			resp, body := e.get(e.browser(), "/authorize", q)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != codeInvalidTarget {
				t.Errorf("%s: status %d, Location %v: %s", name, resp.StatusCode, loc, body)
			}
		}
	})
	t.Run("token", func(t *testing.T) {
		// multi was granted photos only: calendar is a widening.
		code := e.resourceCode("multi", "openid photos:read", photosAPI)
		if a := e.token(resourceExchange("multi", code, calendarAPI), nil); a.status != 400 || a.Error != codeInvalidTarget {
			t.Errorf("widening at the code exchange: %+v", a)
		}
		// A refused exchange burns the code, like any other failed check.
		for _, res := range []string{calendarAPI, "https://x.example/", "not a uri"} {
			code := e.resourceCode("spa", "openid photos:read", "")
			if a := e.token(resourceExchange("spa", code, res), nil); a.status != 400 || a.Error != codeInvalidTarget {
				t.Errorf("resource %q: %+v", res, a)
			}
		}
	})
	t.Run("repeated", func(t *testing.T) {
		code := e.resourceCode("spa", "openid photos:read", "")
		f := resourceExchange("spa", code, photosAPI)
		f.Add("resource", calendarAPI)
		if a := e.token(f, nil); a.status != 400 || a.Error != codeInvalidRequest {
			t.Errorf("two resources: %+v", a)
		}
	})
	t.Run("client credentials", func(t *testing.T) {
		for res, want := range map[string]string{photosAPI: codeInvalidTarget, calendarAPI: "", "": ""} {
			f := url.Values{"grant_type": {"client_credentials"}}
			if res != "" {
				f.Set("resource", res)
			}
			a := e.token(f, basicAuth("svc", testClientSecret))
			if a.Error != want {
				t.Errorf("resource %q: %+v, want error %q", res, a, want)
				continue
			}
			if want != "" {
				continue
			}
			c := e.accessClaims(a.AccessToken)
			if c["aud"] != calendarAPI || c["scope"] != "cal:read" || c["role"] != nil || c["email"] != "svc@example.com" ||
				!slices.Equal(toStrings(c["caps"]), []string{"read", "write"}) {
				t.Errorf("resource %q: service token claims %v", res, c)
			}
		}
	})
}

func TestResourceRefresh(t *testing.T) {
	e := newResourceEnv(t)
	code := e.resourceCode("multi", "openid photos:read cal:read", "")
	a := e.token(resourceExchange("multi", code, photosAPI), nil)
	if a.status != 200 || a.RefreshToken == "" {
		t.Fatalf("exchange: %+v", a)
	}
	rt := a.RefreshToken
	refresh := func(res string) tokenAnswer {
		f := refreshForm(rt)
		f.Set("client_id", "multi")
		if res != "" {
			f.Set("resource", res)
		}
		a := e.token(f, nil)
		if a.RefreshToken != "" {
			rt = a.RefreshToken
		}
		return a
	}
	// Both were granted at /authorize: a refresh may pick either.
	for _, res := range []string{calendarAPI, photosAPI} {
		a := refresh(res)
		if a.status != 200 || e.accessClaims(a.AccessToken)["aud"] != res {
			t.Fatalf("refresh for %s: %+v", res, a)
		}
	}

	// A family granted photos only cannot widen to calendar.
	code = e.resourceCode("multi", "openid photos:read cal:read", photosAPI)
	a = e.token(resourceExchange("multi", code, ""), nil)
	if a.status != 200 || e.accessClaims(a.AccessToken)["aud"] != photosAPI {
		t.Fatalf("exchange, one granted: %+v", a)
	}
	rt = a.RefreshToken
	if a := refresh(calendarAPI); a.status != 400 || a.Error != codeInvalidTarget {
		t.Errorf("widening refresh: %+v", a)
	}
	if a := refresh(""); a.status != 200 || e.accessClaims(a.AccessToken)["aud"] != photosAPI {
		t.Errorf("refresh with the resource left out: %+v", a)
	}
}

func TestResourceVerifierAudience(t *testing.T) {
	e := newResourceEnv(t)
	photos, err := e.srv.ResourceVerifier(photosAPI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.ResourceVerifier("https://nope.example/"); err == nil {
		t.Error("ResourceVerifier of an unknown resource: no error")
	}
	forPhotos := e.token(resourceExchange("spa", e.resourceCode("spa", "openid photos:read", photosAPI), ""), nil).AccessToken
	forDefault := e.token(resourceExchange("spa2", e.resourceCode("spa2", "openid", ""), ""), nil).AccessToken
	if _, err := photos.Verify(t.Context(), forPhotos); err != nil {
		t.Errorf("photos verifier refused a photos token: %v", err)
	}
	for name, tok := range map[string]string{"default audience": forDefault} {
		if _, err := photos.Verify(t.Context(), tok); err == nil {
			t.Errorf("photos verifier accepted a token for the %s", name)
		}
	}
	if _, err := e.srv.Verifier().Verify(t.Context(), forPhotos); err == nil {
		t.Error("the server's default-audience verifier accepted a photos token")
	}
	// /introspect sees every token the server minted; /userinfo only those
	// for its own audience.
	if status, m := e.introspect(forPhotos, basicAuth("svc", testClientSecret)); status != 200 || m["active"] != true || m["aud"] != photosAPI {
		t.Errorf("introspect photos token: %d %v", status, m)
	}
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+forPhotos)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/userinfo with a photos token: %d, want 401", resp.StatusCode)
	}
}

func TestResourceConfigErrors(t *testing.T) {
	cases := map[string]func(*Config){
		"relative ID":   func(c *Config) { c.Resources = []Resource{{ID: "/api"}} },
		"fragment":      func(c *Config) { c.Resources = []Resource{{ID: photosAPI + "#f"}} },
		"duplicate":     func(c *Config) { c.Resources = []Resource{{ID: photosAPI}, {ID: photosAPI}} },
		"the audience":  func(c *Config) { c.Resources = []Resource{{ID: c.Issuer}} },
		"bad scope":     func(c *Config) { c.Resources = []Resource{{ID: photosAPI, Scopes: []string{"a b"}}} },
		"registered":    func(c *Config) { c.Resources = []Resource{{ID: photosAPI, Claims: []string{"sub"}}} },
		"unknown use":   func(c *Config) { c.Clients[0].Resources = []string{photosAPI} },
		"bad client ID": func(c *Config) { c.Clients[0].Resources = []string{"not absolute"} },
		"cycle": func(c *Config) {
			c.Capabilities = Capabilities{Claim: "caps", Graph: map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}}}
		},
		"self cycle": func(c *Config) {
			c.Capabilities = Capabilities{Claim: "caps", Graph: map[string][]string{"a": {"a"}}}
		},
		"unknown capability": func(c *Config) {
			c.Capabilities = Capabilities{Claim: "caps", Graph: map[string][]string{"admin": {"user_management"}}}
		},
		"no claim":         func(c *Config) { c.Capabilities = Capabilities{Graph: map[string][]string{"a": {}}} },
		"registered claim": func(c *Config) { c.Capabilities = Capabilities{Claim: "scope", Graph: map[string][]string{"a": {}}} },
		"claim, no graph":  func(c *Config) { c.Capabilities = Capabilities{Claim: "caps"} },
		"client holds an unknown capability": func(c *Config) {
			c.Capabilities = Capabilities{Claim: "role", Graph: map[string][]string{"admin": {}}}
			// svc's role is "reporter", which the graph does not know.
		},
	}
	base := newTestEnv(t).srv.cfg
	for name, configure := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := base
			cfg.Clients = slices.Clone(base.Clients)
			configure(&cfg)
			if _, err := New(cfg); err == nil {
				t.Errorf("New accepted it")
			} else if !strings.HasPrefix(err.Error(), "keystile: Config.") {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}
}

// FuzzRequestedResource: whatever the resource parameter, reading it never
// panics, and what it accepts is an absolute URI without a fragment.
func FuzzRequestedResource(f *testing.F) {
	for _, s := range []string{photosAPI, calendarAPI, "/api", "https://a.example/#f", "", " ", "https://a\x00.example", "http://[::1", strings.Repeat("a", 3000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, ok, e := requestedResource(params{"resource": raw})
		if !ok {
			t.Fatal("a present parameter read as absent")
		}
		if e != nil {
			if e.code != codeInvalidTarget {
				t.Fatalf("error code %q", e.code)
			}
			return
		}
		u, err := url.Parse(id)
		if err != nil || !u.IsAbs() || strings.Contains(id, "#") || len(id) > maxResourceLen {
			t.Fatalf("accepted %q", id)
		}
	})
}

// The login page and the device page name the API a grant is for, so that
// the user sees where the application will use what they approve; a
// request for no particular API names none.
func TestPagesNameTheResource(t *testing.T) {
	e := newTestEnvWith(t, func(cfg *Config) {
		cfg.Resources = []Resource{{ID: photosAPI, Scopes: []string{"photos:read"}}}
		cfg.Clients = []Client{
			{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect}, Scopes: []string{"openid", "photos:read"}, Resources: []string{photosAPI}},
			{ID: "spa2", Public: true, RedirectURIs: []string{spaRedirect}, Scopes: []string{"openid"}},
			{ID: "tv", Public: true, GrantTypes: []string{GrantDeviceCode}, Scopes: []string{"photos:read"}, Resources: []string{photosAPI}},
		}
		cfg.ValidateUser = func(ctx context.Context, username, pw string) (Identity, error) {
			if username == "alice" && pw == testPassword {
				return Identity{Subject: "alice"}, nil
			}
			return Identity{}, ErrInvalidCredentials
		}
	})
	named := `<p class="note" id="resources">At <code>` + photosAPI + `</code></p>`
	for _, tc := range []struct {
		client, scope, resource string
		want                    bool
	}{
		{"spa", "openid photos:read", photosAPI, true},
		{"spa2", "openid", "", false},
	} {
		q := authorizeQuery()
		q.Set("client_id", tc.client)
		q.Set("scope", tc.scope)
		if tc.resource != "" {
			q.Set("resource", tc.resource)
		}
		resp, body := e.get(e.browser(), "/authorize", q)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login page for %s: status %d", tc.client, resp.StatusCode)
		}
		if got := strings.Contains(body, named); got != tc.want {
			t.Errorf("login page for %s names %s: %v, want %v\n%s", tc.client, photosAPI, got, tc.want, body)
		}
	}

	status, da := e.deviceAuth(url.Values{"client_id": {"tv"}, "scope": {"photos:read"}, "resource": {photosAPI}})
	if status != http.StatusOK {
		t.Fatalf("device authorization: %d %v", status, da)
	}
	b := e.browser()
	_, page := e.get(b, "/device", nil)
	_, body := e.postForm(b, "/device", url.Values{
		"csrf_token": {hiddenValue(t, page, "csrf_token")}, "user_code": {da["user_code"].(string)},
		"username": {"alice"}, "password": {testPassword},
	}, http.Header{"Origin": {e.issuer}})
	if !strings.Contains(body, `id="approve"`) || !strings.Contains(body, named) {
		t.Errorf("the device confirmation page does not name %s:\n%s", photosAPI, body)
	}
}

// A token longer than Keystile takes back (its own verifier, /revoke,
// /introspect: 8 KiB) is not issued: the answer is server_error. A client
// with claims of a usual size gets a token its API accepts.
func TestTokenOverTheVerifierLimitIsNotIssued(t *testing.T) {
	client := func(id, email string) Client {
		return Client{ID: id, SecretHash: password.HashClientSecret(testClientSecret),
			GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"cal:read"}, Resources: []string{calendarAPI},
			Claims: map[string]any{"email": email}}
	}
	e := newTestEnvWith(t, func(cfg *Config) {
		cfg.Resources = []Resource{{ID: calendarAPI, Scopes: []string{"cal:read"}, Claims: []string{"email"}}}
		cfg.Clients = []Client{client("svc", "svc@example.com"), client("huge", strings.Repeat("x", 7000)+"@example.com")}
	})
	for _, tc := range []struct {
		client string
		status int
	}{{"svc", http.StatusOK}, {"huge", http.StatusInternalServerError}} {
		a := e.token(url.Values{"grant_type": {GrantClientCredentials}, "client_id": {tc.client},
			"client_secret": {testClientSecret}, "scope": {"cal:read"}}, nil)
		if a.status != tc.status {
			t.Fatalf("%s: status %d %q, want %d", tc.client, a.status, a.Error, tc.status)
		}
		if tc.status != http.StatusOK {
			if a.Error != "server_error" || a.AccessToken != "" {
				t.Errorf("%s: error %q token %d bytes, want server_error and no token", tc.client, a.Error, len(a.AccessToken))
			}
			continue
		}
		v, err := e.srv.ResourceVerifier(calendarAPI)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), a.AccessToken); err != nil {
			t.Errorf("%s: the API refuses its own token: %v", tc.client, err)
		}
	}
}
