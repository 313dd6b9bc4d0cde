package keystile

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// The server's symmetric keys seal pending sign-ins into the login form
// (pending.go) and sign known-device cookies (device.go). They are derived
// from the private material of the signing keys with HKDF-SHA-256 (RFC
// 5869), one key per signing key and purpose, so that:
//
//   - replicas that share a key file (or an HS256 secret) share them, and a
//     login form opened at one replica can be posted to another;
//   - a restart keeps them, and nothing new needs configuring or storing;
//   - a rotation changes them along with the signer: what was sealed before
//     opens until the old signing key leaves the ring (AccessTokenTTL plus
//     the leeway after its retirement), then reads as expired.
//
// Whoever holds a signing key can already mint any token, so deriving from
// it adds no exposure; HKDF's labels keep each derived key apart from the
// others and from the signatures the key makes.

// Purposes of derived keys, the HKDF info of each.
const (
	purposeLoginRequest = "keystile login request v1"
	purposeKnownDevice  = "keystile known device v1"
)

// derivedKeys derives and caches the symmetric keys of a key ring.
type derivedKeys struct {
	ring  *keyRing
	mu    sync.Mutex
	cache map[string][]byte // kid + "\x00" + purpose → key
}

func newDerivedKeys(ring *keyRing) *derivedKeys {
	return &derivedKeys{ring: ring, cache: map[string][]byte{}}
}

// keys returns the keys for purpose of every signing key that verifies now,
// the signer's first: seal with the first, open with any.
func (d *derivedKeys) keys(purpose string) [][]byte {
	ring := d.ring.list()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.cache) > 8*len(ring)+8 { // keys rotated away: start over
		clear(d.cache)
	}
	out := make([][]byte, 0, len(ring))
	for _, k := range ring {
		name := k.kid + "\x00" + purpose
		key, ok := d.cache[name]
		if !ok {
			var err error
			if key, err = deriveKey(k, purpose); err != nil {
				continue // cannot happen for a key NewSigningKey built
			}
			d.cache[name] = key
		}
		out = append(out, key)
	}
	return out
}

// deriveKey is HKDF-SHA-256 over the private material of k, salted with its
// key id, for purpose.
func deriveKey(k SigningKey, purpose string) ([]byte, error) {
	var secret []byte
	switch priv := k.sign.(type) {
	case []byte:
		secret = priv
	case ed25519.PrivateKey:
		secret = priv.Seed()
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, err
		}
		secret = der
	default:
		return nil, errors.New("keystile: no private key to derive from")
	}
	return hkdf.Key(sha256.New, secret, []byte(k.kid), purpose, 32)
}

// seal encrypts and authenticates plaintext with XChaCha20-Poly1305 under
// the first key of purpose, bound to aad, and returns it base64url-encoded:
// a random 24-byte nonce (random nonces are safe at this size), then the
// ciphertext and its tag.
func (d *derivedKeys) seal(purpose string, plaintext, aad []byte) (string, error) {
	keys := d.keys(purpose)
	if len(keys) == 0 {
		return "", errors.New("keystile: no key to seal with")
	}
	aead, err := chacha20poly1305.NewX(keys[0])
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	_, _ = rand.Read(nonce) // never fails (crypto/rand, Go ≥1.24)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plaintext, aad)), nil
}

// open reverses seal with any key of purpose; ok is false for anything that
// was not sealed by one of them with aad, or was changed since.
func (d *derivedKeys) open(purpose, sealed string, aad []byte) (plaintext []byte, ok bool) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sealed)
	if err != nil || len(raw) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return nil, false
	}
	nonce, box := raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:]
	for _, key := range d.keys(purpose) {
		aead, err := chacha20poly1305.NewX(key)
		if err != nil {
			continue
		}
		if out, err := aead.Open(nil, nonce, box, aad); err == nil {
			return out, true
		}
	}
	return nil, false
}

// mac returns HMAC-SHA-256 of msg under the first key of purpose.
func (d *derivedKeys) mac(purpose string, msg []byte) []byte {
	keys := d.keys(purpose)
	if len(keys) == 0 {
		return nil
	}
	m := hmac.New(sha256.New, keys[0])
	m.Write(msg)
	return m.Sum(nil)
}

// verifyMAC reports whether tag is the HMAC-SHA-256 of msg under any key of
// purpose, comparing in constant time.
func (d *derivedKeys) verifyMAC(purpose string, msg, tag []byte) bool {
	for _, key := range d.keys(purpose) {
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		if hmac.Equal(m.Sum(nil), tag) {
			return true
		}
	}
	return false
}
