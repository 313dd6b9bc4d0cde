package keystile

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// newSecret returns 256 bits from crypto/rand, base64url-encoded: used for
// codes, request ids, CSRF tokens and cookie values (RFC 6749 §10.10 asks for
// at least 128 bits).
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go ≥1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret is the stored form of a secret: its SHA-256. The secrets are
// random and 256 bits long, so a fast hash is all that is needed.
func hashSecret(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// maxSecretLen bounds codes and ids before they are hashed or looked up.
const maxSecretLen = 256
