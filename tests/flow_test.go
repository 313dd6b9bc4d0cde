package tests

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile/store"
)

// TestHappyPath signs a user in through every client authentication method
// and both algorithms, and checks what the application receives.
func TestHappyPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		alg      string
		clientID string
		style    oauth2.AuthStyle
		scope    string
		store    func(testing.TB) store.Store // nil: memory
	}{
		{"public client, HS256, memory store", "HS256", "spa", oauth2.AuthStyleInParams, "profile api:read", nil},
		{"public client, RS256, SQLite store", "RS256", "spa", oauth2.AuthStyleInParams, "profile api:read", openSQLite},
		{"client_secret_basic, HS256, SQLite store", "HS256", "backend", oauth2.AuthStyleInHeader, "api:read", openSQLite},
		{"client_secret_basic, RS256, memory store", "RS256", "backend", oauth2.AuthStyleInHeader, "api:read", nil},
		{"client_secret_post, HS256, memory store", "HS256", "backend", oauth2.AuthStyleInParams, "api:read", nil},
		{"client_secret_post, RS256, SQLite store", "RS256", "backend", oauth2.AuthStyleInParams, "api:read", openSQLite},
		{"client_secret_basic, no scope", "HS256", "partner", oauth2.AuthStyleInHeader, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{alg: tc.alg, store: tc.store})
			ctx := testContext(t)
			before := e.clock.Now().Unix()
			fl := e.signIn(ctx, e.oauthConfig(tc.clientID, tc.style), "alice")
			tok, err := fl.exchange(ctx)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if !strings.EqualFold(tok.TokenType, "Bearer") {
				t.Errorf("token_type %q, want Bearer", tok.TokenType)
			}
			if !tok.Valid() || tok.Expiry.IsZero() {
				t.Errorf("token expiry %v: want expires_in to give a future expiry", tok.Expiry)
			}
			j := decodeJWT(t, tok.AccessToken)
			checkAccessTokenHeader(t, e, j, tc.alg)
			want := map[string]any{
				"iss":       e.issuer,
				"sub":       "user-alice",
				"aud":       e.issuer,
				"client_id": tc.clientID,
				"scope":     tc.scope,
				"role":      "admin",
				"groups":    []any{"a", "b"},
			}
			if tc.scope == "" {
				delete(want, "scope")
				if got, ok := j.claims["scope"]; ok {
					t.Errorf("claim scope = %#v, want none: no scope was asked for", got)
				}
			}
			for k, v := range hostileClaims {
				if jsonEqual(j.claims[k], v) {
					t.Errorf("claim %s = %#v: ValidateUser overwrote a registered claim", k, v)
				}
			}
			for k, v := range want {
				got := j.claims[k]
				if arr, ok := got.([]any); ok && k == "aud" && len(arr) == 1 {
					got = arr[0] // aud may be a one-element array (RFC 7519 §4.1.3)
				}
				if !jsonEqual(got, v) {
					t.Errorf("claim %s = %#v, want %#v", k, got, v)
				}
			}
			iat, _ := j.claims["iat"].(float64)
			exp, _ := j.claims["exp"].(float64)
			if iat < float64(before-5) || iat > float64(e.clock.Now().Unix()+5) {
				t.Errorf("iat %v is not the time of issue (around %d): ValidateUser's iat must not win", iat, before)
			}
			if d := time.Duration(exp-iat) * time.Second; d != 15*time.Minute {
				t.Errorf("exp - iat = %v, want the default access-token lifetime 15m", d)
			}
			if jti, _ := j.claims["jti"].(string); jti == "" || jti == hostileClaims["jti"] {
				t.Errorf("jti %q: want a fresh unique id", jti)
			}
			if got := math.Round(time.Until(tok.Expiry).Minutes()); got != 15 {
				t.Errorf("expires_in gives %v minutes, want 15", got)
			}
		})
	}
}

// checkAccessTokenHeader checks the RFC 9068 §2.1 header: typ at+jwt, the
// algorithm, and a kid that the JWKS publishes (RS256) or at least names
// the key (HS256, whose secret is never published).
func checkAccessTokenHeader(t *testing.T, e *env, j jwtParts, alg string) {
	t.Helper()
	if typ, _ := j.header["typ"].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		t.Errorf("header typ %q, want at+jwt", typ)
	}
	if got := j.header["alg"]; got != alg {
		t.Errorf("header alg %v, want %s", got, alg)
	}
	kid, _ := j.header["kid"].(string)
	if kid == "" {
		t.Fatalf("header has no kid")
	}
	for _, h := range []string{"jku", "x5u", "jwk", "x5c"} {
		if _, ok := j.header[h]; ok {
			t.Errorf("header carries %s: a verifier must never be pointed at keys by the token", h)
		}
	}
	jwks := fetchJWKS(t, e.issuer)
	var kids []string
	for _, k := range jwks.Keys {
		kids = append(kids, k.Kid)
	}
	if alg == "RS256" && !slices.Contains(kids, kid) {
		t.Errorf("kid %q is not in the JWKS (kids %v)", kid, kids)
	}
	if alg == "HS256" && len(jwks.Keys) != 0 {
		t.Errorf("the JWKS publishes %d keys for an HS256-only server: a shared secret must never be published", len(jwks.Keys))
	}
}

// jwk is the subset of RFC 7517 members the tests read.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

func fetchJWKS(t testing.TB, issuer string) jwkSet {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p := newBrowserFor(t, issuer, nil).get(ctx, issuer+"/.well-known/jwks.json")
	if p.status != http.StatusOK {
		t.Fatalf("GET jwks.json: %s", describe(p))
	}
	var set jwkSet
	if err := json.Unmarshal([]byte(p.body), &set); err != nil {
		t.Fatalf("jwks.json is not a JWK set: %v\n%s", err, p.body)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	_ = json.Unmarshal([]byte(p.body), &raw)
	for _, k := range raw.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("the JWKS publishes the private member %q", private)
			}
		}
	}
	return set
}

// jsonEqual compares two values as JSON would see them.
func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// TestTokenResponseHeaders redeems a code without a library, to see the
// headers RFC 6749 §5.1 requires of a token response.
func TestTokenResponseHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := testContext(t)
	fl := e.signIn(ctx, e.oauthConfig("spa", oauth2.AuthStyleInParams), "alice")
	p := e.rawTokenRequest(ctx, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {fl.code},
		"redirect_uri":  {spaRedirect},
		"client_id":     {"spa"},
		"code_verifier": {fl.verifier},
	}, "", "")
	if p.status != http.StatusOK {
		t.Fatalf("POST /token: %s", describe(p))
	}
	if got := p.header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if got := p.header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type %q, want application/json", got)
	}
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal([]byte(p.body), &body); err != nil {
		t.Fatalf("token response is not JSON: %v", err)
	}
	if body.AccessToken == "" || !strings.EqualFold(body.TokenType, "Bearer") || body.ExpiresIn != 900 {
		t.Errorf("token response %+v: want an access token, token_type Bearer, expires_in 900", body)
	}

	// An error answer is not cacheable either.
	p = e.rawTokenRequest(ctx, url.Values{
		"grant_type": {"authorization_code"}, "code": {fl.code}, "redirect_uri": {spaRedirect},
		"client_id": {"spa"}, "code_verifier": {fl.verifier},
	}, "", "")
	if p.status != http.StatusBadRequest || jsonError(t, p) != "invalid_grant" {
		t.Fatalf("second redemption: %s, want 400 invalid_grant", describe(p))
	}
	if got := p.header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
		t.Errorf("error answer Cache-Control %q, want no-store", got)
	}
}
