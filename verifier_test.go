package keystile

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// signRaw signs claims with any method, key and extra header members: the
// attacker's view of token building, with nothing enforced.
func signRaw(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func withClaims(edit func(jwt.MapClaims)) jwt.MapClaims {
	c := sigTestClaims()
	edit(c)
	return c
}

func newTestVerifier(t testing.TB, keys ...SigningKey) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{Issuer: sigTestIssuer, Keys: keys, Now: sigTestClock})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewVerifierConfig(t *testing.T) {
	rs, hs := sigTestRS(t), sigTestHS(t)
	tests := []struct {
		name    string
		cfg     VerifierConfig
		wantErr string // "" means accepted
	}{
		{"keys", VerifierConfig{Issuer: sigTestIssuer, Keys: []SigningKey{rs, hs}}, ""},
		{"hs256 secret", VerifierConfig{Issuer: sigTestIssuer, HS256Secret: sigTestSecret}, ""},
		{"jwks https", VerifierConfig{Issuer: sigTestIssuer, JWKSURL: "https://auth.example.com/.well-known/jwks.json"}, ""},
		{"jwks http loopback", VerifierConfig{Issuer: sigTestIssuer, JWKSURL: "http://127.0.0.1:9000/.well-known/jwks.json"}, ""},
		{"no issuer", VerifierConfig{Keys: []SigningKey{rs}}, "Issuer"},
		{"no key source", VerifierConfig{Issuer: sigTestIssuer}, "exactly one"},
		{"empty secret is a source", VerifierConfig{Issuer: sigTestIssuer, HS256Secret: []byte{}}, "HS256Secret"},
		{"two key sources", VerifierConfig{Issuer: sigTestIssuer, Keys: []SigningKey{rs}, HS256Secret: sigTestSecret}, "exactly one"},
		{"short secret", VerifierConfig{Issuer: sigTestIssuer, HS256Secret: []byte("short")}, "HS256Secret"},
		{"zero key", VerifierConfig{Issuer: sigTestIssuer, Keys: []SigningKey{{}}}, "Keys[0]"},
		{"duplicate kid", VerifierConfig{Issuer: sigTestIssuer, Keys: []SigningKey{rs, rs}}, "Keys[1]"},
		{"negative leeway", VerifierConfig{Issuer: sigTestIssuer, Keys: []SigningKey{rs}, Leeway: -time.Second}, "Leeway"},
		{"jwks plain http", VerifierConfig{Issuer: sigTestIssuer, JWKSURL: "http://auth.example.com/jwks"}, "https"},
		{"jwks relative", VerifierConfig{Issuer: sigTestIssuer, JWKSURL: "/jwks"}, "JWKSURL"},
		{"jwks file", VerifierConfig{Issuer: sigTestIssuer, JWKSURL: "file:///etc/jwks"}, "JWKSURL"},
		{"jwks negative interval", VerifierConfig{Issuer: sigTestIssuer, JWKSURL: "https://a.example/j", JWKSRefreshInterval: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatal("accepted")
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("error %q does not name %q", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	rs, hs := sigTestRS(t), sigTestHS(t)
	tests := []struct {
		name  string
		cfg   VerifierConfig // Issuer and Now are filled in
		token string
	}{
		{"RS256", VerifierConfig{Keys: []SigningKey{rs}}, sigTestSign(t, rs, sigTestClaims())},
		{"HS256 from the shared secret", VerifierConfig{HS256Secret: sigTestSecret}, sigTestSign(t, hs, sigTestClaims())},
		{"one of several keys", VerifierConfig{Keys: []SigningKey{hs, rs}}, sigTestSign(t, rs, sigTestClaims())},
		{"expired within the leeway", VerifierConfig{Keys: []SigningKey{rs}},
			sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["exp"] = sigTestNow.Add(-20 * time.Second).Unix() }))},
		{"issued slightly in the future", VerifierConfig{Keys: []SigningKey{rs}},
			sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["iat"] = sigTestNow.Add(20 * time.Second).Unix() }))},
		{"expired within a custom leeway", VerifierConfig{Keys: []SigningKey{rs}, Leeway: 5 * time.Minute},
			sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["exp"] = sigTestNow.Add(-4 * time.Minute).Unix() }))},
		{"audience in a list", VerifierConfig{Keys: []SigningKey{rs}},
			sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["aud"] = []string{"other", sigTestIssuer} }))},
		{"custom audience", VerifierConfig{Keys: []SigningKey{rs}, Audience: "https://api.example.com"},
			sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["aud"] = "https://api.example.com" }))},
		{"typ with media type prefix", VerifierConfig{Keys: []SigningKey{rs}},
			signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), map[string]any{"typ": "application/at+jwt", "kid": rs.KeyID()}, sigTestClaims())},
		{"typ in upper case", VerifierConfig{Keys: []SigningKey{rs}},
			signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), map[string]any{"typ": "AT+JWT", "kid": rs.KeyID()}, sigTestClaims())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Issuer, cfg.Now = sigTestIssuer, sigTestClock
			v, err := NewVerifier(cfg)
			if err != nil {
				t.Fatal(err)
			}
			claims, err := v.Verify(t.Context(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if claims.Subject() != "alice" {
				t.Errorf("sub = %q", claims.Subject())
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	rs, hs, es := sigTestRS(t), sigTestHS(t), sigTestES(t)
	good := sigTestSign(t, rs, sigTestClaims())
	parts := strings.Split(good, ".")
	attacker := sigTestRSA2()
	attackerJWK := jose.JSONWebKey{Key: &attacker.PublicKey, KeyID: rs.KeyID(), Algorithm: "RS256", Use: "sig"}
	attackerKid, err := thumbprint(&attacker.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&sigTestRSA1().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	rsHeader := func(extra map[string]any) map[string]any {
		h := map[string]any{"typ": "at+jwt", "kid": rs.KeyID()}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	tampered, _ := json.Marshal(withClaims(func(c jwt.MapClaims) { c["sub"] = "admin" }))
	flipSig := []byte(parts[2])
	flipSig[10] ^= 'A' ^ 'B'
	if flipSig[10] == parts[2][10] {
		t.Fatal("signature not changed")
	}
	big := withClaims(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", 9000) })

	tests := []struct {
		name  string
		keys  []SigningKey
		token string
	}{
		{"expired beyond the leeway", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["exp"] = sigTestNow.Add(-31 * time.Second).Unix() }))},
		{"not valid yet", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["nbf"] = sigTestNow.Add(2 * time.Minute).Unix() }))},
		{"issued in the future", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["iat"] = sigTestNow.Add(2 * time.Minute).Unix() }))},
		{"missing exp", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"missing sub (RFC 9068 §2.2)", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"empty sub", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["sub"] = "" }))},
		{"numeric sub", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["sub"] = 42 }))},
		{"exp as a string", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["exp"] = fmt.Sprint(sigTestNow.Add(time.Hour).Unix()) }))},
		{"wrong iss", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }))},
		{"iss with trailing slash", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["iss"] = sigTestIssuer + "/" }))},
		{"missing iss", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { delete(c, "iss") }))},
		{"wrong aud", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["aud"] = "https://other.example.com" }))},
		{"missing aud", nil, sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"tampered payload", nil, parts[0] + "." + base64.RawURLEncoding.EncodeToString(tampered) + "." + parts[2]},
		{"tampered signature", nil, parts[0] + "." + parts[1] + "." + string(flipSig)},
		{"signature removed", nil, parts[0] + "." + parts[1] + "."},
		{"alg none", nil, signRaw(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, rsHeader(nil), sigTestClaims())},
		{"alg none with a signature kept", nil, signRaw(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, rsHeader(nil), sigTestClaims()) + parts[2]},
		{"HS256 keyed with the RSA public key PEM", nil, signRaw(t, jwt.SigningMethodHS256, pubPEM, rsHeader(nil), sigTestClaims())},
		{"HS256 keyed with the RSA public key DER", nil, signRaw(t, jwt.SigningMethodHS256, pubDER, rsHeader(nil), sigTestClaims())},
		{"HS256 keyed with the RSA modulus", nil, signRaw(t, jwt.SigningMethodHS256, sigTestRSA1().N.Bytes(), rsHeader(nil), sigTestClaims())},
		{"HS256 keyed with the RSA public key PEM beside a real HS256 key", []SigningKey{rs, hs}, signRaw(t, jwt.SigningMethodHS256, pubPEM, rsHeader(nil), sigTestClaims())},
		{"RS256 token under an HS256 kid", []SigningKey{rs, hs}, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), map[string]any{"typ": "at+jwt", "kid": hs.KeyID()}, sigTestClaims())},
		{"ES256 token under an RS256 kid", []SigningKey{rs, es}, signRaw(t, jwt.SigningMethodES256, sigTestEC(), rsHeader(nil), sigTestClaims())},
		{"PS256 with the right RSA key", nil, signRaw(t, jwt.SigningMethodPS256, sigTestRSA1(), rsHeader(nil), sigTestClaims())},
		{"RS512 with the right RSA key", nil, signRaw(t, jwt.SigningMethodRS512, sigTestRSA1(), rsHeader(nil), sigTestClaims())},
		{"typ missing", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"typ": nil}), sigTestClaims())},
		{"typ JWT", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"typ": "JWT"}), sigTestClaims())},
		{"typ of an ID token", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"typ": "application/jwt"}), sigTestClaims())},
		{"typ not a string", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"typ": []string{"at+jwt"}}), sigTestClaims())},
		{"kid missing", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"kid": nil}), sigTestClaims())},
		{"kid unknown", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"kid": "no-such-key"}), sigTestClaims())},
		{"kid not a string", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"kid": 1}), sigTestClaims())},
		{"another RSA key under our kid", nil, signRaw(t, jwt.SigningMethodRS256, attacker, rsHeader(nil), sigTestClaims())},
		{"jwk header with the attacker key", nil, signRaw(t, jwt.SigningMethodRS256, attacker, rsHeader(map[string]any{"jwk": attackerJWK}), sigTestClaims())},
		{"jwk header and the attacker kid", nil, signRaw(t, jwt.SigningMethodRS256, attacker, rsHeader(map[string]any{"jwk": attackerJWK, "kid": attackerKid}), sigTestClaims())},
		{"jku header to the attacker JWKS", nil, signRaw(t, jwt.SigningMethodRS256, attacker, rsHeader(map[string]any{"jku": "https://evil.example.com/jwks.json"}), sigTestClaims())},
		{"jku header on a genuine token", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"jku": "https://evil.example.com/jwks.json"}), sigTestClaims())},
		{"x5u header", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"x5u": "https://evil.example.com/cert.pem"}), sigTestClaims())},
		{"x5c header", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"x5c": []string{"MIIB"}}), sigTestClaims())},
		{"crit header", nil, signRaw(t, jwt.SigningMethodRS256, sigTestRSA1(), rsHeader(map[string]any{"crit": []string{"exp"}, "exp": 1}), sigTestClaims())},
		{"oversized but validly signed", nil, sigTestSign(t, rs, big)},
		{"padded base64", nil, parts[0] + "." + parts[1] + "." + parts[2] + "=="},
		{"extra segment", nil, good + ".e30"},
		{"two tokens", nil, good + " " + good},
		{"leading space", nil, " " + good},
		{"empty", nil, ""},
		{"dots", nil, ".."},
		{"garbage", nil, "not a token"},
		{"garbage with dots", nil, "a.b.c"},
		{"header not JSON", nil, base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + parts[1] + "." + parts[2]},
		{"payload is an array", nil, parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[]")) + "." + parts[2]},
		{"JWE shaped", nil, "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := tt.keys
			if keys == nil {
				keys = []SigningKey{rs}
			}
			v := newTestVerifier(t, keys...)
			claims, err := v.Verify(t.Context(), tt.token)
			if err == nil {
				t.Fatalf("accepted, claims %v", claims)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %v does not wrap ErrInvalidToken", err)
			}
			if claims != nil {
				t.Errorf("claims returned with the error: %v", claims)
			}
		})
	}
}

// jwksFixture is a JWKS server whose key list the test changes, counting
// fetches, with a clock the test moves.
type jwksFixture struct {
	srv     *httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	keys   []SigningKey
	raw    string // served instead of keys when set
	status int    // answered instead of the JWKS when not zero
	now    time.Time
}

func newJWKSFixture(t *testing.T, keys ...SigningKey) *jwksFixture {
	f := &jwksFixture{keys: keys, now: sigTestNow}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		f.mu.Lock()
		raw, status := f.raw, f.status
		s := &Server{keys: newKeyRing(f.keys, 0, nil)}
		f.mu.Unlock()
		if status != 0 {
			http.Error(w, "unavailable", status)
			return
		}
		if raw != "" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, raw)
			return
		}
		s.handleJWKS(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *jwksFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *jwksFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *jwksFixture) setKeys(keys ...SigningKey) {
	f.mu.Lock()
	f.keys = keys
	f.mu.Unlock()
}

func (f *jwksFixture) verifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{
		Issuer:     sigTestIssuer,
		JWKSURL:    f.srv.URL + "/.well-known/jwks.json",
		HTTPClient: f.srv.Client(),
		Now:        f.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// longClaims outlive every clock move of the JWKS tests.
func longClaims() jwt.MapClaims {
	return withClaims(func(c jwt.MapClaims) { c["exp"] = sigTestNow.Add(24 * time.Hour).Unix() })
}

func TestVerifyJWKSRotation(t *testing.T) {
	a, b := sigTestRS(t), sigTestES(t)
	f := newJWKSFixture(t, a)
	v := f.verifier(t)
	tokA, tokB := sigTestSign(t, a, longClaims()), sigTestSign(t, b, longClaims())

	step := func(name, tok string, wantOK bool, wantFetches int64) {
		t.Helper()
		_, err := v.Verify(t.Context(), tok)
		if (err == nil) != wantOK {
			t.Errorf("%s: Verify error %v, want ok=%v", name, err, wantOK)
		}
		if got := f.fetches.Load(); got != wantFetches {
			t.Errorf("%s: %d JWKS fetches so far, want %d", name, got, wantFetches)
		}
	}

	step("first token fetches the keys", tokA, true, 1)
	step("known kid uses the cache", tokA, true, 1)

	f.setKeys(a, b)
	step("new kid right after a fetch waits for the interval", tokB, false, 1)
	f.advance(DefaultJWKSRefreshInterval)
	step("new kid after the interval is fetched", tokB, true, 2)
	step("old key still verifies", tokA, true, 2)

	f.setKeys(b)
	f.advance(DefaultJWKSMaxAge)
	step("removed key is dropped once the cache is stale", tokA, false, 3)
	step("remaining key verifies", tokB, true, 3)

	// The JWKS server fails: known keys keep working, and nothing is
	// refetched before the interval.
	f.mu.Lock()
	f.status = http.StatusServiceUnavailable
	f.mu.Unlock()
	f.advance(DefaultJWKSMaxAge)
	step("stale keys survive a failed refresh", tokB, true, 4)
	step("no refetch within the interval", tokB, true, 4)
}

func TestVerifyJWKSUnknownKidFlood(t *testing.T) {
	a := sigTestRS(t)
	f := newJWKSFixture(t, a)
	v := f.verifier(t)
	if _, err := v.Verify(t.Context(), sigTestSign(t, a, longClaims())); err != nil {
		t.Fatal(err)
	}
	// Forged tokens, each naming a kid of its own.
	forged := make([]string, 40)
	for i := range forged {
		forged[i] = signRaw(t, jwt.SigningMethodRS256, sigTestRSA2(), map[string]any{"typ": "at+jwt", "kid": fmt.Sprintf("forged-%d", i)}, longClaims())
	}
	flood := func() {
		var wg sync.WaitGroup
		for _, tok := range forged {
			wg.Go(func() {
				if _, err := v.Verify(t.Context(), tok); err == nil {
					t.Error("forged token accepted")
				}
			})
		}
		wg.Wait()
	}

	flood()
	if got := f.fetches.Load(); got != 1 {
		t.Errorf("after a flood right after the first fetch: %d fetches, want 1", got)
	}
	f.advance(DefaultJWKSRefreshInterval)
	flood()
	if got := f.fetches.Load(); got != 2 {
		t.Errorf("after a flood once the interval passed: %d fetches, want 2 (one shared fetch)", got)
	}
	flood()
	if got := f.fetches.Load(); got != 2 {
		t.Errorf("after a second flood in the same interval: %d fetches, want 2", got)
	}
}

func TestVerifyJWKSHostileSets(t *testing.T) {
	rs := sigTestRS(t)
	weak := mustRSA(1024)
	weakJWK, _ := json.Marshal(jose.JSONWebKey{Key: &weak.PublicKey, KeyID: "weak", Algorithm: "RS256", Use: "sig"})
	rsJWK := func(mod func(*jose.JSONWebKey)) string {
		j, _ := rs.jwk()
		mod(&j)
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	octJWK, _ := json.Marshal(jose.JSONWebKey{Key: sigTestSecret, KeyID: "oct", Algorithm: "HS256", Use: "sig"})
	good := rsJWK(func(*jose.JSONWebKey) {})

	tests := []struct {
		name  string
		jwks  string
		token string
		ok    bool
	}{
		{"plain set verifies", `{"keys":[` + good + `]}`, sigTestSign(t, rs, longClaims()), true},
		{"alg may be absent", `{"keys":[` + rsJWK(func(j *jose.JSONWebKey) { j.Algorithm = "" }) + `]}`, sigTestSign(t, rs, longClaims()), true},
		{"one unreadable key does not spoil the set", `{"keys":[{"kty":"weird","kid":"x"},` + good + `]}`, sigTestSign(t, rs, longClaims()), true},
		{"symmetric key in the JWKS", `{"keys":[` + string(octJWK) + `]}`,
			signRaw(t, jwt.SigningMethodHS256, sigTestSecret, map[string]any{"typ": "at+jwt", "kid": "oct"}, longClaims()), false},
		{"RSA key under 2048 bits", `{"keys":[` + string(weakJWK) + `]}`,
			signRaw(t, jwt.SigningMethodRS256, weak, map[string]any{"typ": "at+jwt", "kid": "weak"}, longClaims()), false},
		{"alg that does not fit the key", `{"keys":[` + rsJWK(func(j *jose.JSONWebKey) { j.Algorithm = "HS256" }) + `]}`,
			signRaw(t, jwt.SigningMethodHS256, []byte(good), map[string]any{"typ": "at+jwt", "kid": rs.KeyID()}, longClaims()), false},
		{"encryption key", `{"keys":[` + rsJWK(func(j *jose.JSONWebKey) { j.Use = "enc" }) + `]}`, sigTestSign(t, rs, longClaims()), false},
		{"two keys under one kid", `{"keys":[` + good + `,` + rsJWK(func(j *jose.JSONWebKey) { j.Key = &sigTestRSA2().PublicKey }) + `]}`,
			sigTestSign(t, rs, longClaims()), false},
		{"not JSON", `<html>`, sigTestSign(t, rs, longClaims()), false},
		{"over 1 MiB", `{"keys":[` + good + `],"pad":"` + strings.Repeat("x", 1<<20) + `"}`, sigTestSign(t, rs, longClaims()), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newJWKSFixture(t)
			f.mu.Lock()
			f.raw = tt.jwks
			f.mu.Unlock()
			_, err := f.verifier(t).Verify(t.Context(), tt.token)
			if (err == nil) != tt.ok {
				t.Errorf("Verify error %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestVerifyJWKSCancelledCaller(t *testing.T) {
	rs := sigTestRS(t)
	f := newJWKSFixture(t, rs)
	v := f.verifier(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// The cancelled caller may or may not see the fetch finish; either way
	// it gets no panic and, if refused, the usual error.
	if _, err := v.Verify(ctx, sigTestSign(t, rs, longClaims())); err != nil && !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("cancelled caller: %v", err)
	}
	// The fetch that the cancelled request started is not abandoned: it
	// serves the next request, without a second fetch.
	if _, err := v.Verify(t.Context(), sigTestSign(t, rs, longClaims())); err != nil {
		t.Fatalf("next request: %v", err)
	}
	if got := f.fetches.Load(); got != 1 {
		t.Errorf("%d fetches, want 1", got)
	}
}

func TestVerifierMiddleware(t *testing.T) {
	rs := sigTestRS(t)
	v := newTestVerifier(t, rs)
	good := sigTestSign(t, rs, sigTestClaims())
	expired := sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["exp"] = sigTestNow.Add(-time.Hour).Unix() }))
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "hello "+c.Subject())
	})))
	defer srv.Close()

	const bare = `Bearer realm="keystile"`
	const invalid = `Bearer realm="keystile", error="invalid_token", error_description="the access token is invalid or expired"`
	tests := []struct {
		name       string
		build      func() *http.Request
		wantStatus int
		wantAuth   string
		wantBody   string
	}{
		{"valid token", func() *http.Request { return bearerReq(srv.URL, "Bearer "+good) }, 200, "", "hello alice"},
		{"scheme in lower case", func() *http.Request { return bearerReq(srv.URL, "bearer "+good) }, 200, "", "hello alice"},
		{"scheme in upper case", func() *http.Request { return bearerReq(srv.URL, "BEARER "+good) }, 200, "", "hello alice"},
		{"no Authorization", func() *http.Request { return bearerReq(srv.URL, "") }, 401, bare, `"unauthorized"`},
		{"Basic credentials", func() *http.Request { return bearerReq(srv.URL, "Basic YWxpY2U6c2VjcmV0") }, 401, bare, `"unauthorized"`},
		{"scheme only", func() *http.Request { return bearerReq(srv.URL, "Bearer") }, 401, invalid, `"invalid_token"`},
		{"empty token", func() *http.Request { return bearerReq(srv.URL, "Bearer ") }, 401, invalid, `"invalid_token"`},
		{"expired token", func() *http.Request { return bearerReq(srv.URL, "Bearer "+expired) }, 401, invalid, `"invalid_token"`},
		{"garbage token", func() *http.Request { return bearerReq(srv.URL, "Bearer abc.def.ghi") }, 401, invalid, `"invalid_token"`},
		{"token in the query", func() *http.Request { return bearerReq(srv.URL+"?access_token="+good, "") }, 401, bare, `"unauthorized"`},
		{"token in a form body", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(url.Values{"access_token": {good}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 401, bare, `"unauthorized"`},
		{"two Authorization headers", func() *http.Request {
			r := bearerReq(srv.URL, "Bearer "+good)
			r.Header.Add("Authorization", "Bearer "+good)
			return r
		}, 400, `Bearer realm="keystile", error="invalid_request", error_description="send exactly one Authorization header"`, `"invalid_request"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tt.build())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.wantAuth {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantAuth)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body %s, want it to contain %s", body, tt.wantBody)
			}
			if resp.StatusCode != 200 {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q", ct)
				}
				// Library error text (jwt's "token is expired", …) stays
				// on the server.
				if strings.Contains(string(body), "token is expired") || strings.Contains(string(body), "malformed") || strings.Contains(string(body), "keystile:") {
					t.Errorf("body leaks internal error text: %s", body)
				}
			}
		})
	}
}

func bearerReq(u, auth string) *http.Request {
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		panic(err)
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

// FuzzVerify feeds arbitrary strings to Verify. Nothing may panic, every
// refusal must wrap ErrInvalidToken, and only the seeded valid tokens may
// verify: a mutation of a valid token that still verifies would be a
// forgery (or malleability, which strict base64 decoding rules out).
func FuzzVerify(f *testing.F) {
	rs, hs, ed := sigTestRS(f), sigTestHS(f), sigTestEdKey(f)
	v := newTestVerifier(f, rs, hs, ed)
	valid := map[string]bool{}
	for _, k := range []SigningKey{rs, hs, ed} {
		tok := sigTestSign(f, k, sigTestClaims())
		valid[tok] = true
		p := strings.Split(tok, ".")
		for _, seed := range []string{
			tok,
			tok[:len(tok)-1],
			tok[:len(tok)/2],
			p[0] + "." + p[1] + ".",
			p[0] + "." + p[1],
			p[1] + "." + p[0] + "." + p[2],
			tok + "=",
			strings.ToUpper(tok),
		} {
			f.Add(seed)
		}
	}
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.")
	f.Add(signRaw(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"typ": "at+jwt", "kid": rs.KeyID()}, sigTestClaims()))

	f.Fuzz(func(t *testing.T, tok string) {
		claims, err := v.Verify(context.Background(), tok)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if !valid[tok] {
			t.Fatalf("an unseeded token verified: %q (claims %v)", tok, claims)
		}
	})
}

func BenchmarkVerifyHS256(b *testing.B) {
	k := sigTestHS(b)
	v := newTestVerifier(b, k)
	tok := sigTestSign(b, k, sigTestClaims())
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRS256(b *testing.B) {
	k := sigTestRS(b)
	v := newTestVerifier(b, k)
	tok := sigTestSign(b, k, sigTestClaims())
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
