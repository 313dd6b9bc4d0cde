package storekeys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/keystile/keystile/store"
)

// MinSecretBytes is the shortest key-encryption secret NewSealer takes: as
// for an HS256 secret, 256 bits.
const MinSecretBytes = 32

// sealedMagic starts sealed material; plain material is a PEM key file,
// which starts with "-----BEGIN".
var sealedMagic = []byte("KSK1")

// Sealer seals the private keys a store keeps with AES-256-GCM, under a key
// derived with HKDF-SHA-256 from a key-encryption secret that the store
// does not hold: a copy of the database alone then gives no key away, and
// a key written into it by someone without the secret does not open, so it
// cannot be made to sign. The zero Sealer (no secret) keeps keys in plain
// PEM.
type Sealer struct {
	aead cipher.AEAD // nil: plain
}

// NewSealer returns the Sealer for secret; an empty secret seals nothing.
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) == 0 {
		return &Sealer{}, nil
	}
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("the key-encryption secret is %d bytes; use at least %d random bytes", len(secret), MinSecretBytes)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "keystile signing-key encryption v1", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the key-encryption key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Sealing reports whether s encrypts.
func (s *Sealer) Sealing() bool { return s.aead != nil }

// boundTo is the additional data that ties sealed material to its row:
// material moved to another generation, or a row whose activation time was
// changed, no longer opens.
func boundTo(k store.StoredKey) []byte {
	return fmt.Appendf(nil, "keystile signing key\x00%d\x00%s\x00%s\x00%d\x00%d",
		k.Generation, k.KeyID, k.Algorithm, k.CreatedAt.UnixMilli(), k.ActiveAt.UnixMilli())
}

// seal returns what the store keeps for the key file bytes plain of k.
func (s *Sealer) seal(plain []byte, k store.StoredKey) []byte {
	if s.aead == nil {
		return plain
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := append(bytes.Clone(sealedMagic), nonce...)
	return s.aead.Seal(out, nonce, plain, boundTo(k))
}

// open returns the key file bytes of the stored key k. Errors never quote
// the material.
func (s *Sealer) open(k store.StoredKey) ([]byte, error) {
	sealed, isSealed := bytes.CutPrefix(k.Material, sealedMagic)
	switch {
	case isSealed && s.aead == nil:
		return nil, errors.New("it is encrypted, and no key-encryption secret is configured")
	case !isSealed && s.aead != nil:
		// Refused rather than used: whoever can write to the database
		// could otherwise slip in a key of their own.
		return nil, errors.New("it is not encrypted, but a key-encryption secret is configured")
	case !isSealed:
		return k.Material, nil
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("its encrypted material is truncated")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], boundTo(k))
	if err != nil {
		return nil, errors.New("it does not decrypt with the key-encryption secret (a wrong secret, or an altered row)")
	}
	return plain, nil
}
