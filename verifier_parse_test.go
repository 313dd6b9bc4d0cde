package keystile

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// reheader returns tok with its header replaced by headerJSON and signed
// again with k: a token whose header is not, byte for byte, the one k puts
// on its own tokens, so Verify decodes and checks it.
func reheader(t *testing.T, k SigningKey, tok, headerJSON string) string {
	t.Helper()
	_, rest, _ := strings.Cut(tok, ".")
	body, _, _ := strings.Cut(rest, ".")
	signed := base64.RawURLEncoding.EncodeToString([]byte(headerJSON)) + "." + body
	sig, err := k.method.Sign(signed, k.sign)
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestVerifyKnownHeader: a token bearing a trusted key's own header and one
// whose header says the same in other bytes verify alike; a header that
// differs in anything that matters is refused whichever way it is read.
func TestVerifyKnownHeader(t *testing.T) {
	hs, rs := sigTestHS(t), sigTestRS(t)
	v := newTestVerifier(t, hs, rs)
	ctx := context.Background()
	for _, k := range []SigningKey{hs, rs} {
		tok := sigTestSign(t, k, sigTestClaims())
		if head, _, _ := strings.Cut(tok, "."); head != k.atHeader {
			t.Fatalf("%s: the token's header is not the key's own", k.alg)
		}
		ok := []string{
			tok,
			reheader(t, k, tok, ` {"typ" : "at+jwt", "kid":"`+k.kid+`", "alg":"`+k.alg+`"}`),
			reheader(t, k, tok, `{"alg":"`+k.alg+`","kid":"`+k.kid+`","typ":"application/AT+JWT"}`),
		}
		for _, tk := range ok {
			if _, err := v.Verify(ctx, tk); err != nil {
				t.Errorf("%s: %v", k.alg, err)
			}
		}
		bad := []string{
			reheader(t, k, tok, `{"alg":"`+k.alg+`","kid":"`+k.kid+`","typ":"JWT"}`),
			reheader(t, k, tok, `{"alg":"`+k.alg+`","crit":["x"],"kid":"`+k.kid+`","typ":"at+jwt"}`),
			reheader(t, k, tok, `{"alg":"`+k.alg+`","kid":"`+k.kid+`","typ":"at+jwt","jwk":null}`),
			reheader(t, k, tok, `{"alg":"`+k.alg+`","kid":"other","typ":"at+jwt"}`),
			reheader(t, k, tok, `{"alg":"`+k.alg+`","kid":"`+k.kid+`","typ":"at+jwt"`),
		}
		for i, tk := range bad {
			if _, err := v.Verify(ctx, tk); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("%s: bad header %d verified (err %v)", k.alg, i, err)
			}
		}
	}
	// The HS256 key's own header over an RS256 signature, and the other
	// way round: the header names the key, and the key's signature is
	// missing.
	hsTok, rsTok := sigTestSign(t, hs, sigTestClaims()), sigTestSign(t, rs, sigTestClaims())
	hsHead, _, _ := strings.Cut(hsTok, ".")
	rsHead, rsRest, _ := strings.Cut(rsTok, ".")
	_, hsRest, _ := strings.Cut(hsTok, ".")
	for _, tk := range []string{hsHead + "." + rsRest, rsHead + "." + hsRest} {
		if _, err := v.Verify(ctx, tk); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			t.Errorf("a signature of the other key: err %v, want a signature error", err)
		}
	}
}

// A retired key's own header stops verifying with the key, in a server's
// key ring, once the key's grace has passed.
func TestVerifyKnownHeaderRetired(t *testing.T) {
	hs, rs := sigTestHS(t), sigTestRS(t)
	now := sigTestNow
	ring := newKeyRing([]SigningKey{rs, hs.Retire(now)}, 15*time.Minute, func() time.Time { return now })
	v, err := newVerifier(VerifierConfig{Issuer: sigTestIssuer, Now: func() time.Time { return now }}, ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := sigTestSign(t, hs, sigTestClaims())
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("a retired key within its grace: %v", err)
	}
	now = now.Add(15*time.Minute + DefaultLeeway + time.Second)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, jwt.ErrTokenUnverifiable) {
		t.Fatalf("a retired key past its grace: err %v, want unverifiable (unknown kid)", err)
	}
}
