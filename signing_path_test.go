package keystile

import (
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestSignES256VerifiesWithGolangJWT: the ES256 signatures signES256 writes
// verify with golang-jwt, which reads r and s as 32 bytes each; enough of
// them that values with leading zero bytes (about 1 in 128 signatures)
// come up.
func TestSignES256VerifiesWithGolangJWT(t *testing.T) {
	k := sigTestES(t)
	for i := range 3000 {
		tok, err := k.signJWT(accessTokenType, jwt.MapClaims{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		at := strings.LastIndexByte(tok, '.')
		sig, err := jwt.NewParser().DecodeSegment(tok[at+1:])
		if err != nil || len(sig) != 64 {
			t.Fatalf("signature of %d bytes, %v", len(sig), err)
		}
		if err := jwt.SigningMethodES256.Verify(tok[:at], sig, k.verify); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
}

func TestFillFixed(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
		ok   bool
	}{
		{[]byte{1, 2}, "\x00\x00\x01\x02", true},
		{[]byte{0, 0xff, 1, 2, 3}, "\xff\x01\x02\x03", true},
		{[]byte{1, 2, 3, 4, 5}, "", false},
		{nil, "\x00\x00\x00\x00", true},
	} {
		out := make([]byte, 4)
		ok := fillFixed(out, tc.in)
		if ok != tc.ok || (ok && string(out) != tc.want) {
			t.Errorf("fillFixed(%x) = %x, %v; want %x, %v", tc.in, out, ok, tc.want, tc.ok)
		}
	}
}

// BenchmarkSignAsym compares the signing of one access token by Keystile
// with golang-jwt's SignedString of the same claims and header, per
// algorithm: the floor of bench/run.sh signs with the latter.
func BenchmarkSignAsym(b *testing.B) {
	for _, k := range []SigningKey{sigTestES(b), sigTestEdKey(b)} {
		claims := sigTestClaims()
		b.Run(k.alg+"/keystile", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.signAccessToken(claims); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(k.alg+"/golang-jwt", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				t := jwt.NewWithClaims(k.method, claims)
				t.Header["typ"] = accessTokenType
				t.Header["kid"] = k.kid
				if _, err := t.SignedString(k.sign); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
