package keystile

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/store/memory"
)

const spaLogoutRedirect = "https://spa.example.com/bye"

// oidcDirectory is the user directory of the OIDC tests: alice with
// standard claims (one of the wrong JSON type) and a custom one. LookupUser
// answers with the current name, so that tests can tell fresh values from
// those captured at sign-in, and refuses alice once disabled.
type oidcDirectory struct {
	disabled atomic.Bool
	name     atomic.Pointer[string]
}

func (d *oidcDirectory) claims(name string) map[string]any {
	return map[string]any{
		"role":               "admin", // custom: never in an ID token or /userinfo
		"name":               name,
		"preferred_username": "alice",
		"locale":             "fr-CA",
		"updated_at":         1700000000,
		"gender":             7, // not a string: left out
		"email":              "alice@example.com",
		"email_verified":     true,
		"phone_number":       "+1 555 0100", // phone scope is never granted here
		"nonce":              "planted",     // registered: never taken from the user
	}
}

// newOIDCEnv is newTestEnv with clients that may ask for openid, profile
// and email, alice's directory d, and configure's last word.
func newOIDCEnv(t *testing.T, d *oidcDirectory, configure func(*Config)) *testEnv {
	t.Helper()
	first := "Alice Liddell"
	d.name.Store(&first)
	return newTestEnvWith(t, func(c *Config) {
		for i := range c.Clients {
			cl := &c.Clients[i]
			switch cl.ID {
			case "spa":
				cl.Scopes = []string{"openid", "profile", "email", "read"}
				cl.PostLogoutRedirectURIs = []string{spaLogoutRedirect}
			case "backend":
				cl.Scopes = []string{"openid"}
			case "svc":
				cl.Scopes = append(cl.Scopes, "openid")
			}
		}
		c.ValidateUser = func(_ context.Context, username, password string) (Identity, error) {
			if username == "alice" && password == testPassword {
				return Identity{Subject: "alice", Claims: d.claims("Alice Liddell")}, nil
			}
			return Identity{}, ErrInvalidCredentials
		}
		c.LookupUser = func(_ context.Context, subject string) (Identity, error) {
			if subject != "alice" || d.disabled.Load() {
				return Identity{}, ErrUnknownUser
			}
			return Identity{Subject: "alice", Claims: d.claims(*d.name.Load())}, nil
		}
		if configure != nil {
			configure(c)
		}
	})
}

// oidcAnswer is a decoded /token response with its ID token.
type oidcAnswer struct {
	status       int
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
}

func (e *testEnv) oidcToken(form url.Values, header http.Header) oidcAnswer {
	e.t.Helper()
	resp, body := e.postForm(http.DefaultClient, "/token", form, header)
	var a oidcAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		e.t.Fatalf("/token answered status %d with non-JSON %q", resp.StatusCode, body)
	}
	a.status = resp.StatusCode
	return a
}

// oidcLogin signs alice in to the spa client with scope and nonce (none
// when empty) in browser and redeems the code.
func (e *testEnv) oidcLogin(browser *http.Client, scope, nonce string) oidcAnswer {
	e.t.Helper()
	q := authorizeQuery()
	q.Set("scope", scope)
	if nonce != "" {
		q.Set("nonce", nonce)
	}
	code := e.login(browser, q).Query().Get("code")
	a := e.oidcToken(exchangeForm(code), nil)
	if a.status != http.StatusOK {
		e.t.Fatalf("code exchange: %+v", a)
	}
	return a
}

// verifiedIDToken checks the signature of tok with key, as a relying party
// holding the JWKS would, and returns its header and claims.
func verifiedIDToken(t *testing.T, tok string, key SigningKey) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.NewParser(jwt.WithValidMethods([]string{key.Algorithm()}), jwt.WithoutClaimsValidation()).
		ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return key.Public(), nil })
	if err != nil {
		t.Fatalf("the ID token does not verify with the %s key: %v", key.Algorithm(), err)
	}
	return parsed.Header, claims
}

// leftHalfHash is at_hash computed independently (OIDC Core §3.1.3.6).
func leftHalfHash(alg, token string) string {
	var sum []byte
	if alg == AlgEdDSA {
		s := sha512.Sum512([]byte(token))
		sum = s[:]
	} else {
		s := sha256.Sum256([]byte(token))
		sum = s[:]
	}
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// keyOf returns a function that takes a key constructor's results and fails
// the test on an error.
func keyOf(t *testing.T) func(SigningKey, error) SigningKey {
	return func(k SigningKey, err error) SigningKey {
		t.Helper()
		if err != nil {
			t.Fatalf("building a key: %v", err)
		}
		return k
	}
}

func num(t *testing.T, c jwt.MapClaims, name string) int64 {
	t.Helper()
	f, ok := c[name].(float64)
	if !ok {
		t.Fatalf("claim %s = %#v, want a number", name, c[name])
	}
	return int64(f)
}

// TestIDTokenByKeySetup: with openid, the code exchange returns an ID token
// that a relying party accepts, for every kind of key set-up.
func TestIDTokenByKeySetup(t *testing.T) {
	rs := keyOf(t)(NewSigningKey(sigTestRSA1()))
	es := keyOf(t)(NewSigningKey(sigTestEC()))
	ed := keyOf(t)(NewSigningKey(sigTestEd()))
	idKey := keyOf(t)(NewSigningKey(sigTestRSA2()))
	cases := []struct {
		name      string
		configure func(*Config)
		signer    SigningKey // the key the ID token must be signed with
	}{
		{"HS256 access tokens with an RS256 IDTokenKey", nil, idKey},
		{"RS256 server", func(c *Config) { c.Keys, c.IDTokenKey = []SigningKey{rs}, SigningKey{} }, rs},
		{"ES256 server", func(c *Config) { c.Keys, c.IDTokenKey = []SigningKey{es}, SigningKey{} }, es},
		{"EdDSA server, at_hash with SHA-512", func(c *Config) { c.Keys, c.IDTokenKey = []SigningKey{ed}, SigningKey{} }, ed},
		{"RS256 server with an ES256 IDTokenKey", func(c *Config) { c.Keys, c.IDTokenKey = []SigningKey{rs}, es }, es},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &oidcDirectory{}
			e := newOIDCEnv(t, d, tc.configure)
			loginTime := e.clock.Now().Unix()
			a := e.oidcLogin(e.browser(), "openid profile read", "n-0S6_WzA2Mj")
			if a.IDToken == "" {
				t.Fatalf("no id_token in the response to an openid request: %+v", a)
			}
			header, c := verifiedIDToken(t, a.IDToken, tc.signer)
			if header["typ"] != "JWT" || header["kid"] != tc.signer.KeyID() || header["alg"] != tc.signer.Algorithm() {
				t.Errorf("header %v, want typ JWT, alg %s and kid %s", header, tc.signer.Algorithm(), tc.signer.KeyID())
			}
			want := map[string]any{
				"iss": e.issuer, "sub": "alice", "aud": "spa", "nonce": "n-0S6_WzA2Mj",
				"name": "Alice Liddell", "preferred_username": "alice", "locale": "fr-CA",
				"at_hash": leftHalfHash(tc.signer.Algorithm(), a.AccessToken),
			}
			for k, v := range want {
				if c[k] != v {
					t.Errorf("claim %s = %#v, want %#v", k, c[k], v)
				}
			}
			if iat, exp := num(t, c, "iat"), num(t, c, "exp"); iat != loginTime || exp-iat != int64(e.srv.cfg.AccessTokenTTL/time.Second) {
				t.Errorf("iat %d exp %d: want iat now (%d) and exp AccessTokenTTL later", iat, exp, loginTime)
			}
			if got := num(t, c, "auth_time"); got != loginTime {
				t.Errorf("auth_time %d, want the sign-in time %d", got, loginTime)
			}
			if num(t, c, "updated_at") != 1700000000 {
				t.Errorf("updated_at = %v", c["updated_at"])
			}
			// Not released: custom claims, claims of scopes not granted,
			// standard claims of the wrong type, azp (aud is the client).
			for _, k := range []string{"role", "email", "email_verified", "phone_number", "gender", "azp", "client_id", "scope", "jti"} {
				if v, ok := c[k]; ok {
					t.Errorf("claim %s = %#v is in the ID token, want it left out", k, v)
				}
			}
			if _, err := e.srv.Verifier().Verify(context.Background(), a.IDToken); err == nil {
				t.Error("the ID token passes as an access token")
			}
		})
	}
}

// TestJWKSPublishesIDTokenKey: relying parties find the key of every ID
// token in the JWKS, and no HS256 secret is ever in it.
func TestJWKSPublishesIDTokenKey(t *testing.T) {
	e := newOIDCEnv(t, &oidcDirectory{}, nil)
	resp, body := e.get(http.DefaultClient, "/.well-known/jwks.json", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS: status %d", resp.StatusCode)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatal(err)
	}
	var kids []any
	for _, k := range set.Keys {
		kids = append(kids, k["kid"])
		if k["kty"] == "oct" || k["k"] != nil || k["d"] != nil {
			t.Errorf("the JWKS publishes secret material: %v", k)
		}
	}
	if !slices.Contains(kids, any(e.srv.cfg.IDTokenKey.KeyID())) {
		t.Errorf("the JWKS kids %v lack the IDTokenKey %s: relying parties cannot verify ID tokens (jwt.go handleJWKS must publish s.publishedKeys())", kids, e.srv.cfg.IDTokenKey.KeyID())
	}
}

// TestNonceIsEchoedExactly: the nonce comes back byte for byte, is left out
// when none was sent, and one over 512 bytes is refused at /authorize.
func TestNonceIsEchoedExactly(t *testing.T) {
	e := newOIDCEnv(t, &oidcDirectory{}, nil)
	cases := []struct {
		name  string
		nonce string
	}{
		{"ascii", "abc123"},
		{"unicode and form-special characters", "nönce ✓ & = + % / ? # 😀"},
		{"512 bytes", strings.Repeat("é", 256)},
		{"none sent", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.oidcLogin(e.browser(), "openid", tc.nonce)
			_, c := verifiedIDToken(t, a.IDToken, e.srv.cfg.IDTokenKey)
			got, present := c["nonce"]
			if tc.nonce == "" && present {
				t.Fatalf("nonce %q in the ID token, but none was sent", got)
			}
			if tc.nonce != "" && got != tc.nonce {
				t.Fatalf("nonce %q, want %q", got, tc.nonce)
			}
		})
	}
	t.Run("513 bytes is refused", func(t *testing.T) {
		q := authorizeQuery()
		q.Set("nonce", strings.Repeat("n", 513))
		resp, _ := e.get(e.browser(), "/authorize", q)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("code") != "" {
			t.Fatalf("status %d Location %q, want a redirect with invalid_request", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// TestIDTokenOnlyWithOpenID: no openid in the granted scope, no ID token.
func TestIDTokenOnlyWithOpenID(t *testing.T) {
	e := newOIDCEnv(t, &oidcDirectory{}, nil)
	t.Run("code without openid", func(t *testing.T) {
		if a := e.oidcLogin(e.browser(), "profile read", "n"); a.IDToken != "" || a.AccessToken == "" {
			t.Fatalf("got %+v, want an access token and no id_token", a)
		}
	})
	t.Run("refresh narrowed to exclude openid", func(t *testing.T) {
		a := e.oidcLogin(e.browser(), "openid read", "n")
		f := refreshForm(a.RefreshToken)
		f.Set("scope", "read")
		if r := e.oidcToken(f, nil); r.status != http.StatusOK || r.IDToken != "" {
			t.Fatalf("got %+v, want tokens without an id_token", r)
		}
	})
	t.Run("client credentials", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid reports:read"}}
		if a := e.oidcToken(form, basicAuth("svc", testClientSecret)); a.status != http.StatusOK || a.IDToken != "" {
			t.Fatalf("got %+v, want an access token and no id_token (there is no user)", a)
		}
	})
}

// TestIDTokenOnRefresh: a refresh returns a new ID token about the same
// sign-in (OIDC Core §12.2) with the user's current claims, for the new
// access token, and without the nonce.
func TestIDTokenOnRefresh(t *testing.T) {
	d := &oidcDirectory{}
	e := newOIDCEnv(t, d, nil)
	first := e.oidcLogin(e.browser(), "openid profile email read", "login-nonce")
	_, c1 := verifiedIDToken(t, first.IDToken, e.srv.cfg.IDTokenKey)

	e.clock.Advance(20 * time.Minute)
	renamed := "Alice Kingsleigh"
	d.name.Store(&renamed)
	next := e.oidcToken(refreshForm(first.RefreshToken), nil)
	if next.status != http.StatusOK || next.IDToken == "" {
		t.Fatalf("refresh: %+v, want tokens with an id_token", next)
	}
	_, c2 := verifiedIDToken(t, next.IDToken, e.srv.cfg.IDTokenKey)
	for _, k := range []string{"iss", "sub", "aud", "auth_time", "email"} {
		if c1[k] != c2[k] {
			t.Errorf("claim %s changed on refresh: %v → %v", k, c1[k], c2[k])
		}
	}
	if num(t, c2, "iat") != e.clock.Now().Unix() {
		t.Errorf("iat %v, want the time of the refresh", c2["iat"])
	}
	if c2["at_hash"] != leftHalfHash(AlgRS256, next.AccessToken) {
		t.Error("at_hash does not match the new access token")
	}
	if c2["name"] != renamed {
		t.Errorf("name %v, want the current value from LookupUser", c2["name"])
	}
	if n, ok := c2["nonce"]; ok {
		t.Errorf("nonce %v on refresh, want none", n)
	}
}

// TestNewRequiresAsymmetricIDTokenKey: a server that cannot sign ID tokens
// that relying parties can verify does not start.
func TestNewRequiresAsymmetricIDTokenKey(t *testing.T) {
	hs := keyOf(t)(NewSigningKey(sigTestSecret))
	rs := keyOf(t)(NewSigningKey(sigTestRSA1()))
	openidClient := Client{ID: "app", Public: true, RedirectURIs: []string{"https://app.example.com/cb"}, Scopes: []string{"openid"}}
	plainClient := Client{ID: "app", Public: true, RedirectURIs: []string{"https://app.example.com/cb"}, Scopes: []string{"read"}}
	cases := []struct {
		name    string
		keys    []SigningKey
		idKey   SigningKey
		client  Client
		wantErr string
	}{
		{"HS256, openid client, no IDTokenKey", []SigningKey{hs}, SigningKey{}, openidClient, "Config.IDTokenKey is required"},
		{"HS256 IDTokenKey", []SigningKey{rs}, hs, openidClient, "Config.IDTokenKey is HS256"},
		{"HS256 without openid clients", []SigningKey{hs}, SigningKey{}, plainClient, ""},
		{"HS256 with an RS256 IDTokenKey", []SigningKey{hs}, rs, openidClient, ""},
		{"RS256 signs ID tokens itself", []SigningKey{rs}, SigningKey{}, openidClient, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{
				Issuer: "https://auth.example.com", Clients: []Client{tc.client}, Store: memory.New(),
				Keys: tc.keys, IDTokenKey: tc.idKey,
				ValidateUser: func(context.Context, string, string) (Identity, error) { return Identity{}, ErrInvalidCredentials },
			})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestOpenIDConfiguration: the OIDC discovery document agrees with the RFC
// 8414 document on every member they share and adds what OIDC Discovery §3
// requires.
func TestOpenIDConfiguration(t *testing.T) {
	es := keyOf(t)(NewSigningKey(sigTestEC()))
	cases := []struct {
		name      string
		configure func(*Config)
		algs      []any
	}{
		{"HS256 with an RS256 IDTokenKey", nil, []any{"RS256"}},
		{"ES256 server", func(c *Config) { c.Keys, c.IDTokenKey = []SigningKey{es}, SigningKey{} }, []any{"ES256"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newOIDCEnv(t, &oidcDirectory{}, tc.configure)
			doc := func(path string) map[string]any {
				resp, body := e.get(http.DefaultClient, path, nil)
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
					t.Fatalf("%s: status %d, Content-Type %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(body), &m); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				return m
			}
			oauth := doc("/.well-known/oauth-authorization-server")
			oidc := doc("/.well-known/openid-configuration")
			for k, v := range oauth {
				if k == "scopes_supported" {
					continue // the OIDC document always adds openid
				}
				if !jsonEqualTest(oidc[k], v) {
					t.Errorf("%s: RFC 8414 says %v, OIDC discovery says %v", k, v, oidc[k])
				}
			}
			want := map[string]any{
				"issuer":                                e.issuer,
				"userinfo_endpoint":                     e.issuer + "/userinfo",
				"end_session_endpoint":                  e.issuer + "/logout",
				"jwks_uri":                              e.issuer + "/.well-known/jwks.json",
				"subject_types_supported":               []any{"public"},
				"response_types_supported":              []any{"code"},
				"code_challenge_methods_supported":      []any{"S256"},
				"id_token_signing_alg_values_supported": tc.algs,
				"claims_parameter_supported":            false,
				"request_parameter_supported":           false,
				"request_uri_parameter_supported":       false,
			}
			for k, v := range want {
				if !jsonEqualTest(oidc[k], v) {
					t.Errorf("%s = %v, want %v", k, oidc[k], v)
				}
			}
			if oauth["userinfo_endpoint"] != e.issuer+"/userinfo" {
				t.Errorf("the RFC 8414 document has userinfo_endpoint %v", oauth["userinfo_endpoint"])
			}
			for _, list := range []struct{ name, item string }{
				{"scopes_supported", "openid"}, {"scopes_supported", "email"},
				{"claims_supported", "sub"}, {"claims_supported", "email_verified"}, {"claims_supported", "nonce"},
				{"token_endpoint_auth_methods_supported", "none"}, {"token_endpoint_auth_methods_supported", "client_secret_basic"},
			} {
				items, _ := oidc[list.name].([]any)
				if !slices.Contains(items, any(list.item)) {
					t.Errorf("%s = %v, want %q in it", list.name, items, list.item)
				}
			}
		})
	}
}

func jsonEqualTest(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// signHint signs claims as an ID token with key, the way an attacker holding
// that key (or Keystile itself) would.
func signHint(t *testing.T, key SigningKey, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := key.signIDToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestLogoutWithIDTokenHint: id_token_hint names the client of an
// RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2) and must be one of
// our ID tokens; a bad hint shows an error page and redirects nowhere.
func TestLogoutWithIDTokenHint(t *testing.T) {
	e := newOIDCEnv(t, &oidcDirectory{}, nil)
	hsKey := e.srv.cfg.Keys[0]
	idKey := e.srv.cfg.IDTokenKey
	otherRSA := keyOf(t)(NewSigningKey(sigTestRSA1()))
	// A backend ID token, for the "another client" cases.
	bq := authorizeQuery()
	bq.Set("client_id", "backend")
	bq.Set("redirect_uri", backendRedirect)
	bq.Set("scope", "openid")
	bcode := e.login(e.browser(), bq).Query().Get("code")
	bform := exchangeForm(bcode)
	bform.Del("client_id")
	bform.Set("redirect_uri", backendRedirect)
	backend := e.oidcToken(bform, basicAuth("backend", testClientSecret))
	if backend.IDToken == "" {
		t.Fatalf("backend exchange: %+v", backend)
	}
	claimsFor := func(aud string) jwt.MapClaims {
		now := e.clock.Now()
		return jwt.MapClaims{"iss": e.issuer, "sub": "alice", "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	forgedKid := func() string {
		// The right kid, but signed with another RSA key.
		k := otherRSA
		k.kid = idKey.kid
		return signHint(t, k, claimsFor("spa"))
	}

	cases := []struct {
		name     string
		hint     func(spa oidcAnswer) string
		clientID string
		wantOK   bool
	}{
		{"valid hint, no client_id", func(a oidcAnswer) string { return a.IDToken }, "", true},
		{"valid hint and its client_id", func(a oidcAnswer) string { return a.IDToken }, "spa", true},
		{"expired hint with a good signature", func(a oidcAnswer) string {
			e.clock.Advance(2 * time.Hour)
			return a.IDToken
		}, "", true},
		{"hint of another client than client_id", func(oidcAnswer) string { return backend.IDToken }, "spa", false},
		{"hint whose client has no such post-logout URI", func(oidcAnswer) string { return backend.IDToken }, "", false},
		{"signature altered", func(a oidcAnswer) string { return a.IDToken[:len(a.IDToken)-4] + "AAAA" }, "", false},
		{"signed by another key under our kid", func(oidcAnswer) string { return forgedKid() }, "", false},
		{"our key, another issuer", func(oidcAnswer) string {
			c := claimsFor("spa")
			c["iss"] = "https://evil.example.com"
			return signHint(t, idKey, c)
		}, "", false},
		{"our key, unregistered audience", func(oidcAnswer) string { return signHint(t, idKey, claimsFor("evil")) }, "", false},
		{"HS256 with the access-token secret", func(oidcAnswer) string { return signHint(t, hsKey, claimsFor("spa")) }, "", false},
		{"an access token", func(a oidcAnswer) string { return a.AccessToken }, "", false},
		{"garbage", func(oidcAnswer) string { return "not.a.jwt" }, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			browser := e.browser()
			spa := e.oidcLogin(browser, "openid", "n")
			q := url.Values{"id_token_hint": {tc.hint(spa)}, "post_logout_redirect_uri": {spaLogoutRedirect}, "state": {"st ✓"}}
			if tc.clientID != "" {
				q.Set("client_id", tc.clientID)
			}
			resp, body := e.get(browser, "/logout", q)
			if !tc.wantOK {
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
					t.Fatalf("GET /logout: status %d Location %q, want an error page", resp.StatusCode, resp.Header.Get("Location"))
				}
				// A confirmation form forged with the bad hint is refused
				// too, and the user stays signed in.
				resp, _ = e.postForm(browser, "/logout", url.Values{"csrf_token": {"x"}, "id_token_hint": {q.Get("id_token_hint")}, "post_logout_redirect_uri": {spaLogoutRedirect}}, nil)
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
					t.Fatalf("POST /logout: status %d Location %q, want an error page", resp.StatusCode, resp.Header.Get("Location"))
				}
				if r := e.oidcToken(refreshForm(spa.RefreshToken), nil); r.status != http.StatusOK {
					t.Fatalf("the session ended after a refused logout: refresh %+v", r)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
				t.Fatalf("GET /logout: status %d Location %q, want the confirmation page", resp.StatusCode, resp.Header.Get("Location"))
			}
			form := url.Values{"csrf_token": {hiddenValue(t, body, "csrf_token")}, "id_token_hint": {hiddenValue(t, body, "id_token_hint")},
				"post_logout_redirect_uri": {spaLogoutRedirect}, "state": {"st ✓"}}
			resp, _ = e.postForm(browser, "/logout", form, nil)
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != spaLogoutRedirect+"?state="+url.QueryEscape("st ✓") {
				t.Fatalf("POST /logout: status %d Location %q", resp.StatusCode, loc)
			}
			if r := e.oidcToken(refreshForm(spa.RefreshToken), nil); r.status == http.StatusOK {
				t.Fatal("the refresh token of the ended session still works")
			}
		})
	}
}

// TestLogoutIgnoresAnotherUsersHint: an id_token_hint whose sub is not the
// signed-in user is treated as no hint (issue 8, item 10; OIDC RP-Initiated
// Logout 1.0 §2): it names no client to redirect to, it is not carried into
// the confirmation form, and its audience cannot contradict client_id.
func TestLogoutIgnoresAnotherUsersHint(t *testing.T) {
	e := newOIDCEnv(t, &oidcDirectory{}, nil)
	idKey := e.srv.cfg.IDTokenKey
	hintFor := func(sub, aud string) string {
		now := e.clock.Now()
		return signHint(t, idKey, jwt.MapClaims{"iss": e.issuer, "sub": sub, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	}
	t.Run("another user's hint names no client to return to", func(t *testing.T) {
		browser := e.browser()
		spa := e.oidcLogin(browser, "openid", "n")
		q := url.Values{"id_token_hint": {hintFor("mallory", "spa")}, "post_logout_redirect_uri": {spaLogoutRedirect}}
		resp, _ := e.get(browser, "/logout", q)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("GET /logout: status %d Location %q, want an error page: without the hint nothing names the client", resp.StatusCode, resp.Header.Get("Location"))
		}
		if r := e.oidcToken(refreshForm(spa.RefreshToken), nil); r.status != http.StatusOK {
			t.Fatalf("the session ended: refresh %+v", r)
		}
	})
	t.Run("another user's hint is not carried into the form", func(t *testing.T) {
		browser := e.browser()
		e.oidcLogin(browser, "openid", "n")
		q := url.Values{"client_id": {"spa"}, "id_token_hint": {hintFor("mallory", "backend")}, "post_logout_redirect_uri": {spaLogoutRedirect}}
		resp, body := e.get(browser, "/logout", q)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /logout with client_id: status %d, want the confirmation page (the hint is ignored, not an error)", resp.StatusCode)
		}
		if f, _ := testutil.ParseForm(body); f.Hidden.Get("id_token_hint") != "" {
			t.Errorf("the confirmation form carries another user's hint")
		}
	})
	t.Run("the signed-in user's own hint still names the client", func(t *testing.T) {
		browser := e.browser()
		spa := e.oidcLogin(browser, "openid", "n")
		resp, _ := e.get(browser, "/logout", url.Values{"id_token_hint": {spa.IDToken}, "post_logout_redirect_uri": {spaLogoutRedirect}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /logout: status %d, want the confirmation page", resp.StatusCode)
		}
	})
}

// FuzzIDTokenHint: whatever arrives as id_token_hint, the check never
// panics, and it accepts only a token that our ID token key signed for a
// registered client.
func FuzzIDTokenHint(f *testing.F) {
	idKey, err := NewSigningKey(sigTestRSA2())
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(Config{
		Issuer:       "https://auth.example.com",
		Clients:      []Client{{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect}, Scopes: []string{"openid"}}},
		Store:        memory.New(),
		Keys:         []SigningKey{idKey},
		ValidateUser: func(context.Context, string, string) (Identity, error) { return Identity{}, ErrInvalidCredentials },
	})
	if err != nil {
		f.Fatal(err)
	}
	valid, err := idKey.signIDToken(jwt.MapClaims{"iss": "https://auth.example.com", "sub": "alice", "aud": "spa", "exp": 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20iLCJhdWQiOiJzcGEiLCJzdWIiOiJhIn0.")
	f.Add(strings.Repeat("a.", 5000))
	f.Fuzz(func(t *testing.T, hint string) {
		client, _, err := srv.verifyIDTokenHint(hint)
		if err == nil && (client == nil || client.ID != "spa") {
			t.Fatalf("accepted %q for client %v", hint, client)
		}
		if err == nil && hint != valid {
			// Only the one token we signed can pass: anything else would
			// be a forgery (strict base64 makes the text canonical).
			t.Fatalf("accepted a hint we did not sign: %q", hint)
		}
	})
}
