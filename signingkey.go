package keystile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Signing algorithms (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// Key-size floors (docs/security.md §8). An HS256 secret shorter than the hash
// output weakens HMAC-SHA-256 (RFC 7518 §3.2 requires at least 256 bits); RSA
// under 2048 bits is below every current recommendation (NIST SP 800-131A).
const (
	// MinHS256SecretBytes is the shortest HS256 secret NewSigningKey takes.
	MinHS256SecretBytes = 32
	minRSABits          = 2048
	// maxRSABits bounds the cost of a verification with a key taken from a
	// remote JWKS: RSA verification time grows with the modulus size.
	maxRSABits = 8192
)

// accessTokenType is the JWT typ header of access tokens (RFC 9068 §2.1).
const accessTokenType = "at+jwt"

// SigningKey is one key that signs access tokens: an HS256 secret, or an
// RS256, ES256 or EdDSA private key. It is a small value, safe to copy and to
// use from several goroutines. The zero SigningKey is not usable; build one
// with NewSigningKey (or read a key file with package keyfile).
type SigningKey struct {
	alg    string
	kid    string
	method jwt.SigningMethod
	// sign is what method.Sign takes: the HMAC secret ([]byte) or the
	// private key.
	sign any
	// verify is what method.Verify takes: the HMAC secret or the public key.
	verify any
	// public is nil for HMAC keys, which are never published.
	public crypto.PublicKey
	// retired is when the key stopped signing (see Retire); zero for a key
	// that signs or verifies with no end.
	retired time.Time
	// atHeader is the base64url JOSE header of the key's access tokens,
	// which never changes: encoded once rather than on every /token.
	atHeader string
	// macs holds ready HMAC states of an HS256 key (nil otherwise): a new
	// one hashes the padded key twice before the token is even written.
	macs *sync.Pool
}

// NewSigningKey returns the SigningKey for key, whose Go type chooses the
// algorithm:
//
//   - []byte: HS256, HMAC-SHA-256 (RFC 7518 §3.2). At least 32 bytes; it is
//     copied. Its key id is derived from the secret with SHA-256 and reveals
//     nothing usable about it. HS256 tokens can only be verified by holders
//     of the secret, so HS256 keys never appear in the JWKS.
//   - *rsa.PrivateKey: RS256, RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518
//     §3.3). Keys under 2048 bits are refused.
//   - *ecdsa.PrivateKey: ES256, ECDSA on P-256 with SHA-256 (RFC 7518 §3.4).
//     Other curves are refused.
//   - ed25519.PrivateKey: EdDSA with Ed25519 (RFC 8037 §3.1).
//
// The key id of an asymmetric key is the RFC 7638 JWK thumbprint (SHA-256,
// base64url) of its public key, so every process that loads the same key
// agrees on it.
func NewSigningKey(key any) (SigningKey, error) {
	switch k := key.(type) {
	case []byte:
		return newHS256Key(k)
	case *rsa.PrivateKey:
		return newRS256Key(k)
	case *ecdsa.PrivateKey:
		return newES256Key(k)
	case ed25519.PrivateKey:
		return newEdDSAKey(k)
	default:
		return SigningKey{}, fmt.Errorf("keystile: unsupported signing key type %T; want []byte, *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey", key)
	}
}

func newHS256Key(secret []byte) (SigningKey, error) {
	if len(secret) < MinHS256SecretBytes {
		return SigningKey{}, fmt.Errorf("keystile: HS256 secret is %d bytes, need at least %d", len(secret), MinHS256SecretBytes)
	}
	s := slices.Clone(secret)
	sum := sha256.Sum256(append([]byte("keystile-hs256-kid:"), s...))
	kid := base64.RawURLEncoding.EncodeToString(sum[:])[:16]
	return SigningKey{
		alg:      AlgHS256,
		kid:      kid,
		method:   jwt.SigningMethodHS256,
		sign:     s,
		verify:   s,
		atHeader: encodedHeader(AlgHS256, kid, accessTokenType),
		macs:     &sync.Pool{New: func() any { return &pooledMAC{mac: hmac.New(sha256.New, s)} }},
	}, nil
}

func newRS256Key(key *rsa.PrivateKey) (SigningKey, error) {
	if key == nil {
		return SigningKey{}, errors.New("keystile: RS256 key is nil")
	}
	if bits := key.N.BitLen(); bits < minRSABits {
		return SigningKey{}, fmt.Errorf("keystile: RS256 key is %d bits, need at least %d", bits, minRSABits)
	}
	if err := key.Validate(); err != nil {
		return SigningKey{}, fmt.Errorf("keystile: RS256 key is invalid: %w", err)
	}
	return newAsymmetricKey(AlgRS256, jwt.SigningMethodRS256, key, &key.PublicKey)
}

func newES256Key(key *ecdsa.PrivateKey) (SigningKey, error) {
	if key == nil {
		return SigningKey{}, errors.New("keystile: ES256 key is nil")
	}
	if key.Curve != elliptic.P256() {
		return SigningKey{}, errors.New("keystile: ES256 key must be on curve P-256")
	}
	return newAsymmetricKey(AlgES256, jwt.SigningMethodES256, key, &key.PublicKey)
}

func newEdDSAKey(key ed25519.PrivateKey) (SigningKey, error) {
	if len(key) != ed25519.PrivateKeySize {
		return SigningKey{}, fmt.Errorf("keystile: Ed25519 key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return SigningKey{}, errors.New("keystile: Ed25519 key has no public half")
	}
	return newAsymmetricKey(AlgEdDSA, jwt.SigningMethodEdDSA, key, pub)
}

func newAsymmetricKey(alg string, method jwt.SigningMethod, priv any, pub crypto.PublicKey) (SigningKey, error) {
	kid, err := thumbprint(pub)
	if err != nil {
		return SigningKey{}, fmt.Errorf("keystile: %s key id: %w", alg, err)
	}
	return SigningKey{alg: alg, kid: kid, method: method, sign: priv, verify: pub, public: pub,
		atHeader: encodedHeader(alg, kid, accessTokenType)}, nil
}

// thumbprint is the RFC 7638 JWK thumbprint of a public key with SHA-256,
// base64url-encoded without padding (RFC 7638 §3.1).
func thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("computing the JWK thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// Algorithm returns the JWS alg of the key: "HS256", "RS256", "ES256" or
// "EdDSA".
func (k SigningKey) Algorithm() string { return k.alg }

// KeyID returns the kid that tokens signed by this key carry in their header.
func (k SigningKey) KeyID() string { return k.kid }

// Public returns the public key, or nil for an HS256 key, which has none.
func (k SigningKey) Public() crypto.PublicKey { return k.public }

// Retire returns a copy of k marked as having stopped signing at at, as a
// key file records it. In Config.Keys or Server.SetKeys, a retired key
// verifies (and stays in the JWKS) until at + AccessTokenTTL + DefaultLeeway,
// when every token it signed has expired, and is then dropped.
func (k SigningKey) Retire(at time.Time) SigningKey {
	k.retired = at
	return k
}

// CheckKeys reports whether keys can be a server's keys (Config.Keys,
// Server.SetKeys): at least one key, the first (the signer) not retired,
// every key built by NewSigningKey, and no key id twice. Errors name keys
// by index and never quote key material.
func CheckKeys(keys []SigningKey) error {
	return checkKeys(keys, func(i int) string { return fmt.Sprintf("key %d", i) })
}

// unretired returns keys with their retirement marks cleared, for checks
// where retirement does not matter.
func unretired(keys []SigningKey) []SigningKey {
	out := make([]SigningKey, len(keys))
	for i, k := range keys {
		k.retired = time.Time{}
		out[i] = k
	}
	return out
}

// checkKeys is CheckKeys with the words that name key i in its errors.
func checkKeys(keys []SigningKey, name func(i int) string) error {
	if len(keys) == 0 {
		return errors.New("no signing key")
	}
	if !keys[0].retired.IsZero() {
		return fmt.Errorf("%s is the first key, which signs, and cannot be retired", name(0))
	}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		if k.method == nil {
			return fmt.Errorf("%s is not initialised; build it with NewSigningKey", name(i))
		}
		if seen[k.kid] {
			return fmt.Errorf("%s repeats key id %q", name(i), k.kid)
		}
		seen[k.kid] = true
	}
	return nil
}

// signAccessToken signs claims as an RFC 9068 access token: the header
// carries typ "at+jwt" (§2.1) and the key's kid. The caller builds the claims.
func (k SigningKey) signAccessToken(claims jwt.MapClaims) (string, error) {
	return k.signJWT(accessTokenType, claims)
}

// signAccessPayload signs payload, a JSON claims set, as signAccessToken
// signs the same claims (accessTokenPayload writes them as json.Marshal
// writes a jwt.MapClaims), with the header encoded when the key was made.
func (k SigningKey) signAccessPayload(payload []byte) (string, error) {
	if k.method == nil {
		return "", errors.New("keystile: signing with an uninitialised SigningKey")
	}
	s, err := k.signPayload(k.atHeader, payload)
	if err != nil {
		return "", fmt.Errorf("keystile: signing a %s token with %s key %s: %w", accessTokenType, k.alg, k.kid, err)
	}
	return s, nil
}

// signIDToken signs claims as an ID token: typ "JWT" and the key's kid. The
// distinct typ is what keeps an ID token from passing as an access token.
func (k SigningKey) signIDToken(claims jwt.MapClaims) (string, error) {
	return k.signJWT(idTokenType, claims)
}

// signJWT is jwt.Token.SignedString, byte for byte, without its header
// map: the header is three fixed strings, so it is marshalled from a struct
// (fields in the map's sorted order) and the token is built in one buffer.
func (k SigningKey) signJWT(typ string, claims jwt.MapClaims) (string, error) {
	if k.method == nil {
		return "", errors.New("keystile: signing with an uninitialised SigningKey")
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("keystile: signing a %s token with %s key %s: %w", typ, k.alg, k.kid, err)
	}
	header := k.atHeader
	if typ != accessTokenType {
		header = encodedHeader(k.alg, k.kid, typ)
	}
	s, err := k.signPayload(header, body)
	if err != nil {
		return "", fmt.Errorf("keystile: signing a %s token with %s key %s: %w", typ, k.alg, k.kid, err)
	}
	return s, nil
}

// signPayload builds the compact JWS of an encoded header and a payload
// in one buffer.
func (k SigningKey) signPayload(header string, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	if k.macs != nil {
		// HS256, as jwt.SigningMethodHS256 computes it, from a pooled
		// state, built in the state's buffer: the token's string is then
		// the one allocation.
		m := k.macs.Get().(*pooledMAC)
		buf := appendSigningInput(m.buf[:0], header, payload)
		m.mac.Reset()
		m.mac.Write(buf)
		sig := m.mac.Sum(m.sum[:0])
		buf = append(buf, '.')
		buf = enc.AppendEncode(buf, sig)
		tok := string(buf)
		clear(buf) // the token is a credential: the pooled copy is wiped
		if cap(buf) <= maxPooledToken {
			m.buf = buf[:0]
		}
		k.macs.Put(m)
		return tok, nil
	}
	buf := appendSigningInput(make([]byte, 0, len(header)+enc.EncodedLen(len(payload))+2+enc.EncodedLen(512)), header, payload)
	var sig []byte
	var err error
	switch key := k.sign.(type) {
	case ed25519.PrivateKey:
		// What jwt.SigningMethodEdDSA signs, without copying the public
		// key out to check it: newEdDSAKey did.
		sig = ed25519.Sign(key, buf)
	case *ecdsa.PrivateKey:
		sig, err = signES256(key, buf)
	default:
		sig, err = k.method.Sign(string(buf), k.sign)
	}
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	return string(enc.AppendEncode(buf, sig)), nil
}

// signES256 is jwt.SigningMethodES256's signature (RFC 7518 §3.4: r and s,
// 32 bytes each, big-endian) from ecdsa.SignASN1, without the big.Int
// values ecdsa.Sign makes of the same signature.
func signES256(key *ecdsa.PrivateKey, signed []byte) ([]byte, error) {
	digest := sha256.Sum256(signed)
	der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, err
	}
	var r, s cryptobyte.String
	in, inner := cryptobyte.String(der), cryptobyte.String(nil)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1(&r, asn1.INTEGER) || !inner.ReadASN1(&s, asn1.INTEGER) || !inner.Empty() {
		return nil, errors.New("ecdsa.SignASN1 gave a malformed signature")
	}
	out := make([]byte, 64)
	if !fillFixed(out[:32], r) || !fillFixed(out[32:], s) {
		return nil, errors.New("ecdsa.SignASN1 gave an out-of-range signature")
	}
	return out, nil
}

// fillFixed writes the DER INTEGER contents n (positive, minimal: at most
// one leading zero byte) right-aligned into out, which it fits.
func fillFixed(out []byte, n []byte) bool {
	for len(n) > 0 && n[0] == 0 {
		n = n[1:]
	}
	if len(n) > len(out) {
		return false
	}
	copy(out[len(out)-len(n):], n)
	return true
}

// encodedHeader is the base64url JOSE header Keystile signs: alg, kid and
// typ, in the order encoding/json writes a map's keys (as golang-jwt
// writes its header map).
func encodedHeader(alg, kid, typ string) string {
	h, err := json.Marshal(jwtHeader{Alg: alg, Kid: kid, Typ: typ})
	if err != nil { // three strings always marshal
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(h)
}

// pooledMAC is an HS256 key's HMAC state and room for its sum, which
// would otherwise escape through the hash.Hash interface, and for the
// tokens signPayload builds.
type pooledMAC struct {
	mac hash.Hash
	sum [sha256.Size]byte
	buf []byte
}

// maxPooledToken bounds the buffer a pooledMAC keeps: a token with large
// custom claims leaves its buffer to the collector.
const maxPooledToken = 4 << 10

// appendSigningInput appends the JWS signing input of an encoded header
// and a payload: header.base64url(payload).
func appendSigningInput(b []byte, header string, payload []byte) []byte {
	b = append(b, header...)
	b = append(b, '.')
	return base64.RawURLEncoding.AppendEncode(b, payload)
}

// jwtHeader is the JOSE header Keystile signs: alg, kid and typ, in the
// order encoding/json writes a map's keys.
type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}
