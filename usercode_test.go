package keystile

import (
	"strings"
	"testing"
)

func TestNormalizeUserCode(t *testing.T) {
	for _, tc := range []struct {
		name, typed, want string
	}{
		{"as shown", "BCDF-GHJK", "BCDFGHJK"},
		{"lower case", "bcdf-ghjk", "BCDFGHJK"},
		{"no dash", "BCDFGHJK", "BCDFGHJK"},
		{"spaces and extra dashes", " bc df - gh jk ", "BCDFGHJK"},
		{"too short", "BCDF-GHJ", ""},
		{"too long", "BCDF-GHJKL", ""},
		{"a vowel", "BCDF-GHJA", ""},
		{"a digit", "BCDF-GHJ0", ""},
		{"empty", "", ""},
		{"only dashes", "--------", ""},
		{"non-ASCII look-alike", "BCDF-GHJК", ""}, // Cyrillic К
		{"dotless i folds to I, not a letter of the alphabet", "BCDF-GHJı", ""},
		{"long s does not fold to S", "BCDF-GHJſ", ""},
		{"NUL", "BCDF\x00GHJK", ""},
		{"oversized", strings.Repeat(" ", 100) + "BCDFGHJK", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := normalizeUserCode(tc.typed)
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("normalizeUserCode(%q) = %q, %v; want %q", tc.typed, got, ok, tc.want)
			}
		})
	}
}

func TestNewUserCode(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c := newUserCode()
		if len(c) != 9 || c[4] != '-' {
			t.Fatalf("newUserCode() = %q, want XXXX-XXXX", c)
		}
		n, ok := normalizeUserCode(c)
		if !ok || n != c[:4]+c[5:] {
			t.Fatalf("normalizeUserCode(%q) = %q, %v", c, n, ok)
		}
		seen[c] = true
	}
	if len(seen) < 999 {
		t.Fatalf("%d distinct codes in 1000", len(seen))
	}
}

func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdfghjk", " b-c-d-f-g-h-j-k ", "BCDF-GHJA", "", "ıııııııı"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		code, ok := normalizeUserCode(typed)
		if !ok {
			return
		}
		if len(code) != userCodeLen {
			t.Fatalf("%q normalised to %q", typed, code)
		}
		for i := range len(code) {
			if !strings.ContainsRune(userCodeAlphabet, rune(code[i])) {
				t.Fatalf("%q normalised to %q", typed, code)
			}
		}
		if again, ok := normalizeUserCode(code); !ok || again != code {
			t.Fatalf("not idempotent: %q → %q → %q", typed, code, again)
		}
	})
}
