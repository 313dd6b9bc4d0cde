package keystile

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// validVerifier reports whether v is a PKCE code_verifier as RFC 7636 §4.1
// defines it: 43 to 128 characters of [A-Za-z0-9-._~].
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isUnreserved(v[i]) {
			return false
		}
	}
	return true
}

// validChallenge reports whether c can be an S256 code_challenge: the
// unpadded base64url encoding of a SHA-256 digest, which is always exactly 43
// characters (RFC 7636 §4.2).
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(c)
	return err == nil
}

func isUnreserved(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}

// s256Challenge computes BASE64URL(SHA256(ASCII(verifier))) (RFC 7636 §4.2).
func s256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// verifyS256 reports whether verifier is well formed and hashes to challenge
// (RFC 7636 §4.6). The comparison is constant-time. A stored challenge that is
// not a valid S256 challenge never verifies, so an empty challenge cannot be
// matched by any verifier.
func verifyS256(verifier, challenge string) bool {
	if !validVerifier(verifier) || !validChallenge(challenge) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(s256Challenge(verifier)), []byte(challenge)) == 1
}
