package storetest

import (
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func testAccessTokenRevocations(t *testing.T, s store.Store) {
	ctx := t.Context()
	revoked := func(jti string) bool {
		t.Helper()
		ok, err := s.AccessTokenRevoked(ctx, jti)
		if err != nil {
			t.Fatalf("AccessTokenRevoked(%q): %v", jti, err)
		}
		return ok
	}
	if revoked("jti-1") {
		t.Error("an unknown jti is reported revoked")
	}
	if err := s.RevokeAccessToken(ctx, "jti-1", t0.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeAccessToken: %v", err)
	}
	// Revoking again, even with an earlier expiry, is not an error and does
	// not cut the entry short.
	if err := s.RevokeAccessToken(ctx, "jti-1", t0.Add(time.Minute)); err != nil {
		t.Fatalf("second RevokeAccessToken: %v", err)
	}
	if err := s.RevokeAccessToken(ctx, "jti-2", t0.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeAccessToken: %v", err)
	}
	for _, tc := range []struct {
		jti  string
		want bool
	}{
		{"jti-1", true},
		{"jti-2", true},
		{"JTI-1", false}, // a jti is compared exactly
		{"jti-", false},
		{"", false},
	} {
		if got := revoked(tc.jti); got != tc.want {
			t.Errorf("AccessTokenRevoked(%q) = %v, want %v", tc.jti, got, tc.want)
		}
	}
	// Once jti-2's token would have expired anyway, its entry can go.
	n, err := s.DeleteExpired(ctx, t0.Add(2*time.Minute))
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n != 1 {
		t.Errorf("DeleteExpired = %d, want 1", n)
	}
	if revoked("jti-2") {
		t.Error("jti-2 is still listed after its token expired and DeleteExpired ran")
	}
	if !revoked("jti-1") {
		t.Error("jti-1 was dropped before its later expiry")
	}
}
