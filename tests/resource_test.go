package tests

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keystile/keystile"
)

// newResourceAPI starts an API in its own server, guarded by v and by
// RequireClaim("role", "admin"). Its handler answers with the subject and
// role it reads from the verified claims.
func newResourceAPI(t *testing.T, v *keystile.Verifier) *httptest.Server {
	t.Helper()
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := keystile.ClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "no claims in the request context", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": claims["sub"], "role": claims["role"]})
	})
	mux := http.NewServeMux()
	mux.Handle("GET /admin", v.Middleware(keystile.RequireClaim("role", "admin")(admin)))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	return api
}

// callAPI sends one request with the given Authorization header.
func callAPI(t *testing.T, api *httptest.Server, authorization string) page {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, api.URL+"/admin", nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return (&browser{t: t, client: api.Client()}).do(req)
}

// tokenCase is one bearer token and what the API must answer to it.
type tokenCase struct {
	name   string
	token  string // sent as "Bearer <token>"; empty sends no Authorization
	header string // a raw Authorization header instead of token
	status int
}

func runTokenCases(t *testing.T, api *httptest.Server, cases []tokenCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auth := tc.header
			if tc.token != "" {
				auth = "Bearer " + tc.token
			}
			p := callAPI(t, api, auth)
			if p.status != tc.status {
				t.Fatalf("status %d, want %d\n%s", p.status, tc.status, p.body)
			}
			challenge := p.header.Get("WWW-Authenticate")
			switch tc.status {
			case http.StatusOK:
				var body map[string]any
				if err := json.Unmarshal([]byte(p.body), &body); err != nil || body["sub"] != "user-alice" || body["role"] != "admin" {
					t.Errorf("the handler read claims %s, want sub user-alice and role admin", p.body)
				}
			case http.StatusForbidden:
				if !strings.HasPrefix(challenge, "Bearer") || !strings.Contains(challenge, "insufficient_scope") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge with error=\"insufficient_scope\"", challenge)
				}
			case http.StatusUnauthorized:
				if !strings.HasPrefix(challenge, "Bearer") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge (RFC 6750 §3)", challenge)
				}
				// A request without a bearer token gets a bare challenge (RFC
				// 6750 §3.1); a bad bearer token gets invalid_token.
				if tc.token != "" && !strings.Contains(challenge, "invalid_token") {
					t.Errorf("WWW-Authenticate %q, want error=\"invalid_token\" for a bad token", challenge)
				}
			}
			if tc.status != http.StatusOK && strings.Contains(p.body, "user-alice") {
				t.Errorf("a refused request leaks claims: %s", p.body)
			}
		})
	}
}

// mintExpired signs user in while the server's clock is an hour behind, so
// the access token it gets has already expired by the real clock.
func mintExpired(e *env, user string) string {
	e.t.Helper()
	e.clock.Advance(-time.Hour)
	defer e.clock.Advance(time.Hour)
	return e.mustToken(testContext(e.t), "backend", user)
}

// tamper changes the role claim of a signed token without re-signing it.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	j := decodeJWT(t, tok)
	j.claims["role"] = "admin"
	return j.raw[0] + "." + encodeSegment(t, j.claims) + "." + j.raw[2]
}

// algNone re-packs a token's claims unsigned, with alg none.
func algNone(t *testing.T, tok string) string {
	t.Helper()
	j := decodeJWT(t, tok)
	return encodeSegment(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": j.header["kid"]}) + "." + j.raw[1] + "."
}

// signHS256 signs the claims of tok with HS256 under secret, keeping the kid.
func signHS256(t *testing.T, tok string, secret []byte) string {
	t.Helper()
	j := decodeJWT(t, tok)
	signingInput := encodeSegment(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": j.header["kid"]}) + "." + j.raw[1]
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signingInput))
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// publicKeyPEMs returns the server's RSA public key from its JWKS, PEM-encoded
// the ways a key-confusion attacker would try it as an HMAC secret.
func publicKeyPEMs(t *testing.T, issuer, kid string) map[string][]byte {
	t.Helper()
	for _, k := range fetchJWKS(t, issuer).Keys {
		if k.Kid != kid || k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			t.Fatalf("JWKS key %s: n or e is not base64url", kid)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		pkix, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatalf("marshal public key: %v", err)
		}
		return map[string][]byte{
			"PKIX PEM":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
			"PKCS1 PEM": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}),
			"PKIX DER":  pkix,
		}
	}
	t.Fatalf("kid %q is not in the JWKS", kid)
	return nil
}

// TestResourceAPIWithJWKS: an API in another process-like server checks
// RS256 tokens with a verifier that knows only the issuer and its JWKS URL.
func TestResourceAPIWithJWKS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{alg: "RS256", loginUnlimited: true})
	v, err := keystile.NewVerifier(keystile.VerifierConfig{Issuer: e.issuer, JWKSURL: e.issuer + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	api := newResourceAPI(t, v)
	ctx := testContext(t)
	admin := e.mustToken(ctx, "backend", "alice")
	viewer := e.mustToken(ctx, "backend", "bob")
	adminJWT, viewerJWT := decodeJWT(t, admin), decodeJWT(t, viewer)
	kid, _ := adminJWT.header["kid"].(string)

	// Another server with the same key but another issuer: its tokens verify
	// cryptographically and must still be refused.
	other := newEnv(t, envOptions{alg: "RS256"})
	foreign := other.mustToken(ctx, "backend", "alice")

	cases := []tokenCase{
		{name: "admin token", token: admin, status: http.StatusOK},
		{name: "token without the claim", token: viewer, status: http.StatusForbidden},
		{name: "expired token", token: mintExpired(e, "alice"), status: http.StatusUnauthorized},
		{name: "tampered payload", token: tamper(t, viewer), status: http.StatusUnauthorized},
		{name: "alg none", token: algNone(t, admin), status: http.StatusUnauthorized},
		{name: "token of another issuer", token: foreign, status: http.StatusUnauthorized},
		{name: "signature of another token", token: adminJWT.raw[0] + "." + adminJWT.raw[1] + "." + viewerJWT.raw[2], status: http.StatusUnauthorized},
		{name: "no token", status: http.StatusUnauthorized},
		{name: "Basic credentials instead of a bearer token", header: "Basic YWxpY2U6cGFzc3dvcmQ=", status: http.StatusUnauthorized},
		{name: "garbage", token: "not.a.jwt", status: http.StatusUnauthorized},
	}
	for name, key := range publicKeyPEMs(t, e.issuer, kid) {
		cases = append(cases, tokenCase{name: "HS256 signed with the RSA public key as " + name, token: signHS256(t, admin, key), status: http.StatusUnauthorized})
	}
	runTokenCases(t, api, cases)
}

// TestResourceAPIWithHS256: the same API guarded by a verifier that shares
// the server's HS256 secret.
func TestResourceAPIWithHS256(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{alg: "HS256", loginUnlimited: true})
	v, err := keystile.NewVerifier(keystile.VerifierConfig{Issuer: e.issuer, HS256Secret: e.hs256})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	api := newResourceAPI(t, v)
	ctx := testContext(t)
	admin := e.mustToken(ctx, "backend", "alice")
	viewer := e.mustToken(ctx, "backend", "bob")

	runTokenCases(t, api, []tokenCase{
		{name: "admin token", token: admin, status: http.StatusOK},
		{name: "token without the claim", token: viewer, status: http.StatusForbidden},
		{name: "expired token", token: mintExpired(e, "alice"), status: http.StatusUnauthorized},
		{name: "tampered payload", token: tamper(t, viewer), status: http.StatusUnauthorized},
		{name: "alg none", token: algNone(t, admin), status: http.StatusUnauthorized},
		{name: "signed with another secret", token: signHS256(t, admin, randomBytes(t, 32)), status: http.StatusUnauthorized},
		{name: "no token", status: http.StatusUnauthorized},
	})

	// A correctly signed HS256 token that is not an access token (typ JWT)
	// is refused too (RFC 9068 §4, docs/security.md §7).
	j := decodeJWT(t, admin)
	input := encodeSegment(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": j.header["kid"]}) + "." + j.raw[1]
	mac := hmac.New(sha256.New, e.hs256)
	mac.Write([]byte(input))
	runTokenCases(t, api, []tokenCase{
		{name: "typ JWT instead of at+jwt", token: input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), status: http.StatusUnauthorized},
	})
}
