package keystile

import (
	"strings"
	"testing"
)

// The RFC 7636 Appendix B example.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestVerifyS256(t *testing.T) {
	tests := []struct {
		name                string
		verifier, challenge string
		want                bool
	}{
		{"RFC 7636 appendix B", rfcVerifier, rfcChallenge, true},
		{"wrong verifier", strings.Repeat("a", 43), rfcChallenge, false},
		{"verifier too short", rfcVerifier[:42], s256Challenge(rfcVerifier[:42]), false},
		{"verifier of 128 characters", strings.Repeat("~", 128), s256Challenge(strings.Repeat("~", 128)), true},
		{"verifier of 129 characters", strings.Repeat("a", 129), s256Challenge(strings.Repeat("a", 129)), false},
		{"verifier with a space", rfcVerifier[:42] + " ", s256Challenge(rfcVerifier[:42] + " "), false},
		{"verifier with a plus", rfcVerifier[:42] + "+", s256Challenge(rfcVerifier[:42] + "+"), false},
		{"verifier with non-ASCII", rfcVerifier[:41] + "é", s256Challenge(rfcVerifier[:41] + "é"), false},
		{"plain method: verifier equals challenge", rfcChallenge, rfcChallenge, false},
		{"empty challenge stored", rfcVerifier, "", false},
		{"empty verifier", "", rfcChallenge, false},
		{"challenge padded", rfcVerifier, rfcChallenge + "=", false},
		{"challenge in std base64", rfcVerifier, strings.ReplaceAll(rfcChallenge, "-", "+"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verifyS256(tt.verifier, tt.challenge); got != tt.want {
				t.Errorf("verifyS256(%q, %q) = %v, want %v", tt.verifier, tt.challenge, got, tt.want)
			}
		})
	}
}

func TestValidChallenge(t *testing.T) {
	tests := []struct {
		name string
		c    string
		want bool
	}{
		{"S256 challenge", rfcChallenge, true},
		{"42 characters", rfcChallenge[:42], false},
		{"44 characters", rfcChallenge + "A", false},
		{"non-canonical last character", rfcChallenge[:42] + "N", false},
		{"bad alphabet", strings.Repeat("*", 43), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validChallenge(tt.c); got != tt.want {
				t.Errorf("validChallenge(%q) = %v, want %v", tt.c, got, tt.want)
			}
		})
	}
}

// FuzzVerifyS256 checks that the verifier check never panics, that only a
// syntactically valid verifier can pass, and that it passes exactly when the
// challenge is its S256 hash.
func FuzzVerifyS256(f *testing.F) {
	f.Add(rfcVerifier, rfcChallenge)
	f.Add(rfcChallenge, rfcChallenge)
	f.Add("", "")
	f.Add(strings.Repeat("a", 128), s256Challenge(strings.Repeat("a", 128)))
	f.Add(strings.Repeat("a", 200), "x")
	f.Fuzz(func(t *testing.T, verifier, challenge string) {
		got := verifyS256(verifier, challenge)
		if got && !validVerifier(verifier) {
			t.Fatalf("accepted a malformed verifier %q", verifier)
		}
		want := validVerifier(verifier) && s256Challenge(verifier) == challenge
		if got != want {
			t.Fatalf("verifyS256(%q, %q) = %v, want %v", verifier, challenge, got, want)
		}
	})
}
