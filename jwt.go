package keystile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Signing algorithms (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// Key-size floors (SECURITY.md §8). An HS256 secret shorter than the hash
// output weakens HMAC-SHA-256 (RFC 7518 §3.2 requires at least 256 bits); RSA
// under 2048 bits is below every current recommendation (NIST SP 800-131A).
const (
	minHS256SecretBytes = 32
	minRSABits          = 2048
	// maxRSABits bounds the cost of a verification with a key taken from a
	// remote JWKS: RSA verification time grows with the modulus size.
	maxRSABits = 8192
	// generatedRSABits is the size LoadOrCreateRSAKey generates. 2048 bits is
	// acceptable through 2030 (NIST SP 800-57) and signs about four times
	// faster than 3072; key generation for 3072 bits also takes seconds on a
	// small machine, which the quickstart would feel at every first start.
	// Operators who want 3072 or 4096 bits provide their own PEM file.
	generatedRSABits = 2048
)

// accessTokenType is the JWT typ header of access tokens (RFC 9068 §2.1).
const accessTokenType = "at+jwt"

// SigningKey is one key that signs access tokens: an HS256 secret, or an
// RS256, ES256 or EdDSA private key. It is a small value, safe to copy and to
// use from several goroutines. The zero SigningKey is not usable; build one
// with NewHS256Key, NewRS256Key, NewES256Key or NewEdDSAKey.
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
}

// NewHS256Key returns a key that signs with HMAC-SHA-256 (RFC 7518 §3.2). The
// secret must be at least 32 bytes; it is copied. Its key id is derived from
// the secret with SHA-256 and reveals nothing usable about it. HS256 tokens
// can only be verified by holders of the secret, so HS256 keys never appear
// in the JWKS.
func NewHS256Key(secret []byte) (SigningKey, error) {
	if len(secret) < minHS256SecretBytes {
		return SigningKey{}, fmt.Errorf("keystile: HS256 secret is %d bytes, need at least %d", len(secret), minHS256SecretBytes)
	}
	s := slices.Clone(secret)
	sum := sha256.Sum256(append([]byte("keystile-hs256-kid:"), s...))
	return SigningKey{
		alg:    AlgHS256,
		kid:    base64.RawURLEncoding.EncodeToString(sum[:])[:16],
		method: jwt.SigningMethodHS256,
		sign:   s,
		verify: s,
	}, nil
}

// NewRS256Key returns a key that signs with RSASSA-PKCS1-v1_5 and SHA-256
// (RFC 7518 §3.3). Keys under 2048 bits are refused. The key id is the RFC
// 7638 JWK thumbprint (SHA-256, base64url) of the public key, so every
// process that loads the same key agrees on it.
func NewRS256Key(key *rsa.PrivateKey) (SigningKey, error) {
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

// NewES256Key returns a key that signs with ECDSA on P-256 and SHA-256 (RFC
// 7518 §3.4). Other curves are refused. The key id is the RFC 7638 JWK
// thumbprint of the public key.
func NewES256Key(key *ecdsa.PrivateKey) (SigningKey, error) {
	if key == nil {
		return SigningKey{}, errors.New("keystile: ES256 key is nil")
	}
	if key.Curve != elliptic.P256() {
		return SigningKey{}, errors.New("keystile: ES256 key must be on curve P-256")
	}
	return newAsymmetricKey(AlgES256, jwt.SigningMethodES256, key, &key.PublicKey)
}

// NewEdDSAKey returns a key that signs with Ed25519 (RFC 8037 §3.1, alg
// "EdDSA"). The key id is the RFC 7638 JWK thumbprint of the public key.
func NewEdDSAKey(key ed25519.PrivateKey) (SigningKey, error) {
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
	return SigningKey{alg: alg, kid: kid, method: method, sign: priv, verify: pub, public: pub}, nil
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

// signAccessToken signs claims as an RFC 9068 access token: the header
// carries typ "at+jwt" (§2.1) and the key's kid. The caller builds the claims.
func (k SigningKey) signAccessToken(claims jwt.MapClaims) (string, error) {
	return k.signJWT(accessTokenType, claims)
}

// signIDToken signs claims as an ID token: typ "JWT" and the key's kid. The
// distinct typ is what keeps an ID token from passing as an access token.
func (k SigningKey) signIDToken(claims jwt.MapClaims) (string, error) {
	return k.signJWT(idTokenType, claims)
}

func (k SigningKey) signJWT(typ string, claims jwt.MapClaims) (string, error) {
	if k.method == nil {
		return "", errors.New("keystile: signing with an uninitialised SigningKey")
	}
	t := jwt.NewWithClaims(k.method, claims)
	t.Header["typ"] = typ
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.sign)
	if err != nil {
		return "", fmt.Errorf("keystile: signing a %s token with %s key %s: %w", typ, k.alg, k.kid, err)
	}
	return s, nil
}

// LoadOrCreateRSAKey reads an RSA private key from a PEM file ("PRIVATE KEY",
// PKCS #8, or "RSA PRIVATE KEY", PKCS #1). If the file does not exist it
// generates a 2048-bit key and writes it as PKCS #8 with mode 0600. The file
// appears atomically: the key is written to a new temporary file in the same
// directory and then linked into place, so a reader never sees half a key
// and two processes starting together end up using the same key.
//
// In a key file with several keys (see LoadKeyFile) it returns the first
// block, the signing key, if that is an RSA key; use LoadKeyFile to read
// every key and their dates.
//
// The permissions of an existing file are not checked: a library cannot warn
// anybody, and refusing would break setups where a secret manager mounts the
// file with its own modes. Keep it readable by the server's user only.
func LoadOrCreateRSAKey(path string) (*rsa.PrivateKey, error) {
	key, err := readRSAKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, err = rsa.GenerateKey(rand.Reader, generatedRSABits)
	if err != nil {
		return nil, fmt.Errorf("keystile: generating an RSA key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("keystile: encoding the RSA key: %w", err)
	}
	created, err := writeNewFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		return nil, err
	}
	if !created {
		// Another process created the file first: use its key, so that
		// both sign with the key that is on disk.
		return readRSAKey(path)
	}
	return key, nil
}

func readRSAKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystile: reading the signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("keystile: %s holds no PEM block", path)
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("keystile: parsing the PKCS #8 key in %s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("keystile: %s holds a %T, not an RSA key", path, k)
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("keystile: parsing the PKCS #1 key in %s: %w", path, err)
		}
		return k, nil
	default:
		// The type is a label chosen by whoever wrote the file, not a
		// secret, so it is safe to name.
		return nil, fmt.Errorf("keystile: %s holds a %q PEM block, want PRIVATE KEY or RSA PRIVATE KEY", path, block.Type)
	}
}

// writeNewFile writes data to path with mode 0600 unless path already
// exists. created is false when another writer got there first.
func writeNewFile(path string, data []byte) (created bool, err error) {
	dir := filepath.Dir(path)
	// CreateTemp opens with O_EXCL and mode 0600.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("keystile: creating the signing key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after the link, this only drops the temporary name
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("keystile: writing the signing key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("keystile: syncing the signing key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("keystile: closing the signing key file: %w", err)
	}
	// A hard link, unlike rename, never replaces an existing file: if two
	// processes race, the loser keeps the winner's key.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("keystile: installing the signing key file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		// Make the new directory entry durable; failure here is not fatal
		// (some file systems refuse to sync directories).
		_ = d.Sync()
		d.Close()
	}
	return true, nil
}

// jwk returns the public JWK of an asymmetric key for the JWKS (RFC 7517
// §4): only public members, with use "sig", alg and kid.
func (k SigningKey) jwk() (jose.JSONWebKey, bool) {
	if k.public == nil {
		return jose.JSONWebKey{}, false
	}
	return jose.JSONWebKey{Key: k.public, KeyID: k.kid, Algorithm: k.alg, Use: "sig"}, true
}

// publicJWKS is the JWK set of the public keys among keys (RFC 7517 §5).
// HS256 keys are secrets and never appear in it.
func publicJWKS(keys []SigningKey) jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		if j, ok := k.jwk(); ok {
			set.Keys = append(set.Keys, j)
		}
	}
	return set
}

// signingAlgs lists the distinct algorithms of keys in their order, for the
// metadata document. HS256 is included when configured: it is true that the
// server signs with it, even though only holders of the secret can verify.
func signingAlgs(keys []SigningKey) []string {
	var algs []string
	for _, k := range keys {
		if k.alg != "" && !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	return algs
}

// jwksMaxAge is how long clients may cache the JWKS. Short enough that a key
// added for rotation reaches them well before it signs anything, if the
// operator publishes it a few minutes ahead.
const jwksMaxAge = "public, max-age=300"

// handleJWKS serves GET /.well-known/jwks.json, the server's public keys
// (RFC 7517 §5; RFC 8414 §2 jwks_uri).
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jwksJSON, publicJWKS(s.publishedKeys()))
}
