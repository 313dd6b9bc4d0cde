package keystile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Shared fixtures of the signing and verification tests. The names carry a
// "sigTest" prefix because other files of this package have tests too.
const sigTestIssuer = "https://auth.example.com"

// sigTestNow is the fixed clock of these tests: tokens are judged against it,
// never against the wall clock.
var sigTestNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func sigTestClock() time.Time { return sigTestNow }

// RSA key generation is the slow part of these tests; each key is made once.
var (
	sigTestRSA1 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	sigTestRSA2 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	sigTestEC   = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	sigTestEd = sync.OnceValue(func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	sigTestSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustKey(t testing.TB, k SigningKey, err error) SigningKey {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sigTestHS(t testing.TB) SigningKey {
	t.Helper()
	k, err := NewSigningKey(sigTestSecret)
	return mustKey(t, k, err)
}

func sigTestRS(t testing.TB) SigningKey {
	t.Helper()
	k, err := NewSigningKey(sigTestRSA1())
	return mustKey(t, k, err)
}

func sigTestES(t testing.TB) SigningKey {
	t.Helper()
	k, err := NewSigningKey(sigTestEC())
	return mustKey(t, k, err)
}

func sigTestEdKey(t testing.TB) SigningKey {
	t.Helper()
	k, err := NewSigningKey(sigTestEd())
	return mustKey(t, k, err)
}

// sigTestClaims are the claims of an RFC 9068 access token issued at
// sigTestNow for 15 minutes.
func sigTestClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":       sigTestIssuer,
		"sub":       "alice",
		"aud":       sigTestIssuer,
		"client_id": "spa",
		"exp":       sigTestNow.Add(15 * time.Minute).Unix(),
		"iat":       sigTestNow.Unix(),
		"jti":       "jti-1",
		"scope":     "openid profile",
	}
}

func sigTestSign(t testing.TB, k SigningKey, claims jwt.MapClaims) string {
	t.Helper()
	s, err := k.signAccessToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decodeSegment decodes one base64url part of a compact JWS.
func decodeSegment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewHS256Key(t *testing.T) {
	tests := []struct {
		name    string
		secret  []byte
		wantErr bool
	}{
		{"nil secret", nil, true},
		{"31 bytes", make([]byte, 31), true},
		{"32 bytes", []byte(strings.Repeat("k", 32)), false},
		{"64 bytes", []byte(strings.Repeat("k", 64)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewSigningKey(tt.secret)
			if tt.wantErr {
				if err == nil {
					t.Fatal("weak secret accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != "HS256" || k.Public() != nil {
				t.Errorf("Algorithm %q Public %v, want HS256 and nil", k.Algorithm(), k.Public())
			}
			if len(k.KeyID()) != 16 || strings.Contains(string(tt.secret), k.KeyID()) {
				t.Errorf("kid %q: want 16 characters that are not part of the secret", k.KeyID())
			}
		})
	}

	t.Run("kid is stable and depends on the secret", func(t *testing.T) {
		a, _ := NewSigningKey(sigTestSecret)
		b, _ := NewSigningKey(slices.Clone(sigTestSecret))
		other := slices.Clone(sigTestSecret)
		other[0] ^= 1
		c, _ := NewSigningKey(other)
		if a.KeyID() != b.KeyID() || a.KeyID() == c.KeyID() {
			t.Errorf("kids %q %q %q: want equal for equal secrets, different otherwise", a.KeyID(), b.KeyID(), c.KeyID())
		}
	})

	t.Run("secret is copied", func(t *testing.T) {
		secret := slices.Clone(sigTestSecret)
		k, _ := NewSigningKey(secret)
		tok := sigTestSign(t, k, sigTestClaims())
		clear(secret)
		v, err := NewVerifier(VerifierConfig{Issuer: sigTestIssuer, HS256Secret: sigTestSecret, Now: sigTestClock})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatalf("token signed after the caller reused its buffer: %v", err)
		}
		if tok2 := sigTestSign(t, k, sigTestClaims()); tok2 != tok {
			t.Error("the key changed when the caller's buffer changed")
		}
	})
}

func TestNewAsymmetricKeys(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		build   func() (SigningKey, error)
		wantAlg string // "" means refused
		pub     crypto.PublicKey
	}{
		{"RS256 2048", func() (SigningKey, error) { return NewSigningKey(sigTestRSA1()) }, "RS256", &sigTestRSA1().PublicKey},
		{"RS256 1024 refused", func() (SigningKey, error) { return NewSigningKey(mustRSA(1024)) }, "", nil},
		{"RS256 nil refused", func() (SigningKey, error) { return NewSigningKey(nil) }, "", nil},
		{"ES256 P-256", func() (SigningKey, error) { return NewSigningKey(sigTestEC()) }, "ES256", &sigTestEC().PublicKey},
		{"ES256 P-384 refused", func() (SigningKey, error) { return NewSigningKey(p384) }, "", nil},
		{"ES256 nil refused", func() (SigningKey, error) { return NewSigningKey(nil) }, "", nil},
		{"EdDSA", func() (SigningKey, error) { return NewSigningKey(sigTestEd()) }, "EdDSA", sigTestEd().Public()},
		{"EdDSA short refused", func() (SigningKey, error) { return NewSigningKey(make(ed25519.PrivateKey, 10)) }, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := tt.build()
			if tt.wantAlg == "" {
				if err == nil {
					t.Fatal("key accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != tt.wantAlg {
				t.Errorf("Algorithm() = %q, want %q", k.Algorithm(), tt.wantAlg)
			}
			// The kid is the RFC 7638 thumbprint, which any JOSE library
			// computes the same way.
			j := jose.JSONWebKey{Key: tt.pub}
			sum, err := j.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if want := base64.RawURLEncoding.EncodeToString(sum); k.KeyID() != want {
				t.Errorf("KeyID() = %q, want thumbprint %q", k.KeyID(), want)
			}
			if eq, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(tt.pub) {
				t.Errorf("Public() = %v, want the key's public half", k.Public())
			}
		})
	}
}

func TestJWTSignVerifyRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		key  SigningKey
	}{
		{"HS256", sigTestHS(t)},
		{"RS256", sigTestRS(t)},
		{"ES256", sigTestES(t)},
		{"EdDSA", sigTestEdKey(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := sigTestClaims()
			claims["role"] = "admin"
			tok := sigTestSign(t, tt.key, claims)

			h := decodeSegment(t, tok, 0)
			if h["typ"] != "at+jwt" || h["kid"] != tt.key.KeyID() || h["alg"] != tt.name {
				t.Errorf("header = %v, want typ at+jwt, kid %s, alg %s", h, tt.key.KeyID(), tt.name)
			}

			v, err := NewVerifier(VerifierConfig{Issuer: sigTestIssuer, Keys: []SigningKey{tt.key}, Now: sigTestClock})
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject() != "alice" || got.ClientID() != "spa" || got["role"] != "admin" || !slices.Equal(got.Scopes(), []string{"openid", "profile"}) {
				t.Errorf("claims = %v", got)
			}
		})
	}
}

func TestSignWithZeroKey(t *testing.T) {
	if _, err := (SigningKey{}).signAccessToken(sigTestClaims()); err == nil {
		t.Fatal("the zero SigningKey signed a token")
	}
}

func TestJWKSEndpoint(t *testing.T) {
	keys := []SigningKey{sigTestRS(t), sigTestHS(t), sigTestES(t), sigTestEdKey(t)}
	srv := httptest.NewServer(http.HandlerFunc((&Server{keys: newKeyRing(keys, 0, nil)}).handleJWKS))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") || !strings.Contains(cc, "public") {
		t.Errorf("Cache-Control %q, want public with a max-age", cc)
	}

	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	wantKty := map[string]string{keys[0].KeyID(): "RSA", keys[2].KeyID(): "EC", keys[3].KeyID(): "OKP"}
	if len(doc.Keys) != len(wantKty) {
		t.Fatalf("JWKS has %d keys, want %d (the HS256 secret must not be published): %s", len(doc.Keys), len(wantKty), body)
	}
	for _, k := range doc.Keys {
		kid, _ := k["kid"].(string)
		if wantKty[kid] == "" || k["kty"] != wantKty[kid] {
			t.Errorf("unexpected key %v", k)
		}
		if k["use"] != "sig" || k["alg"] == nil || k["alg"] == "" {
			t.Errorf("key %s: use %v alg %v, want sig and an alg", kid, k["use"], k["alg"])
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %s publishes private member %q", kid, private)
			}
		}
	}
	if strings.Contains(string(body), base64.RawURLEncoding.EncodeToString(sigTestSecret)) || strings.Contains(string(body), keys[1].KeyID()) {
		t.Error("the JWKS mentions the HS256 key")
	}

	// Any JOSE library can read it back.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %s: public %v valid %v", k.KeyID, k.IsPublic(), k.Valid())
		}
	}
}

func TestJWKSEmptyForHMACOnly(t *testing.T) {
	body, err := json.Marshal(publicJWKS([]SigningKey{sigTestHS(t)}))
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"keys":[]}` {
		t.Errorf("JWKS = %s, want an empty key list (not null)", body)
	}
}

func TestSigningAlgs(t *testing.T) {
	rs, hs, es := sigTestRS(t), sigTestHS(t), sigTestES(t)
	rs2, err := NewSigningKey(sigTestRSA2())
	rs2 = mustKey(t, rs2, err)
	tests := []struct {
		name string
		keys []SigningKey
		want []string
	}{
		{"none", nil, nil},
		{"one", []SigningKey{rs}, []string{"RS256"}},
		{"distinct in order", []SigningKey{es, rs, hs, rs2}, []string{"ES256", "RS256", "HS256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := signingAlgs(tt.keys); !slices.Equal(got, tt.want) {
				t.Errorf("signingAlgs = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkSignHS256(b *testing.B) {
	k := sigTestHS(b)
	claims := sigTestClaims()
	for b.Loop() {
		if _, err := k.signAccessToken(claims); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignRS256(b *testing.B) {
	k := sigTestRS(b)
	claims := sigTestClaims()
	for b.Loop() {
		if _, err := k.signAccessToken(claims); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSignJWTIsSignedString: signJWT builds the token itself, and must give
// what golang-jwt's SignedString gives, byte for byte, for the algorithms
// whose signatures are deterministic.
func TestSignJWTIsSignedString(t *testing.T) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{"iss": "https://auth.example.com", "sub": "a<b>&c", "exp": int64(1e9), "scope": "x y", "n": map[string]any{"k": []any{1, "ü"}}}
	for _, raw := range []any{[]byte("0123456789abcdef0123456789abcdef"), sigTestRSA2(), ed} {
		k, err := NewSigningKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{accessTokenType, idTokenType} {
			got, err := k.signJWT(typ, claims)
			if err != nil {
				t.Fatal(err)
			}
			want := jwt.NewWithClaims(k.method, claims)
			want.Header["typ"] = typ
			want.Header["kid"] = k.kid
			ws, err := want.SignedString(k.sign)
			if err != nil {
				t.Fatal(err)
			}
			if got != ws {
				t.Errorf("%s %s: signJWT gave\n%s\nSignedString gives\n%s", k.alg, typ, got, ws)
			}
		}
	}
}

// An HS256 token is built in its pooled state's buffer: the string is the
// one allocation, and a token already given out is not changed by the next
// one built in the same buffer.
func TestSignHS256PooledBuffer(t *testing.T) {
	k := sigTestHS(t)
	first, err := k.signAccessPayload([]byte(`{"sub":"first"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Clone(first)
	for _, p := range []string{`{"sub":"second"}`, strings.Repeat("x", 5000), `{}`} {
		if _, err := k.signAccessPayload([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	again, _ := k.signAccessPayload([]byte(`{"sub":"first"}`))
	if first != want || again != want {
		t.Errorf("the first token changed, or signing it again differs: %q, %q, want %q", first, again, want)
	}
	if raceEnabled {
		return // the pool drops states at random: the count below means nothing
	}
	payload := []byte(`{"sub":"alice","scope":"a b"}`)
	if n := testing.AllocsPerRun(100, func() { _, _ = k.signAccessPayload(payload) }); n != 1 {
		t.Errorf("signing an HS256 token allocates %v times, want 1", n)
	}
}
