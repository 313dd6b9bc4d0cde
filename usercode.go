package keystile

import (
	"crypto/rand"
	"strings"
)

// User codes follow RFC 8628 §6.1: short enough to type, from an alphabet
// without look-alikes. Twenty consonants (no vowels, so no words; no digits,
// so no 0/O or 1/I) in eight characters are 20^8 ≈ 2^34.6 codes, shown as
// XXXX-XXXX. With codes living minutes and guesses throttled at /device,
// that is the section's recommended strength.
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8
	// maxUserCodeInput bounds what normalizeUserCode reads: a user may add
	// spaces and dashes, not a page of text.
	maxUserCodeInput = 64
)

// newUserCode returns a random user code as it is shown, XXXX-XXXX. Each
// character is uniform over the alphabet: bytes of 240 and above are drawn
// again, since 256 is not a multiple of 20.
func newUserCode() string {
	out := make([]byte, 0, userCodeLen+1)
	buf := make([]byte, 16)
	for len(out) < userCodeLen+1 {
		_, _ = rand.Read(buf) // never fails (crypto/rand, Go ≥1.24)
		for _, b := range buf {
			if b >= 240 || len(out) == userCodeLen+1 {
				continue
			}
			if len(out) == userCodeLen/2 {
				out = append(out, '-')
			}
			out = append(out, userCodeAlphabet[b%20])
		}
	}
	return string(out)
}

// normalizeUserCode turns what a user typed into the canonical code whose
// hash is stored: case folded, dashes and spaces dropped (RFC 8628 §6.1:
// "the server should ignore" them). ok is false unless exactly eight
// characters of the alphabet remain.
func normalizeUserCode(typed string) (code string, ok bool) {
	if len(typed) > maxUserCodeInput {
		return "", false
	}
	var b strings.Builder
	for i := range len(typed) {
		c := typed[i]
		if 'a' <= c && c <= 'z' { // ASCII only: no Unicode letter may fold into a code
			c -= 'a' - 'A'
		}
		switch {
		case c == '-' || c == ' ' || c == '\t':
		case strings.IndexByte(userCodeAlphabet, c) >= 0:
			if b.Len() == userCodeLen {
				return "", false
			}
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	if b.Len() != userCodeLen {
		return "", false
	}
	return b.String(), true
}
