package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func sampleSession(name string) store.Session {
	return store.Session{
		IDHash:    hash("session " + name),
		Subject:   "alice",
		Claims:    map[string]any{"role": "admin", "groups": []string{"a"}},
		AuthTime:  t0.Add(-time.Minute),
		ExpiresAt: t0.Add(time.Hour),
	}
}

func testSessionLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleSession("a")
	other := sampleSession("other")
	for _, sess := range []store.Session{want, other} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	// Reading does not use the session up: it carries many sign-ons.
	for i := range 2 {
		got, err := s.GetSession(ctx, want.IDHash, t0)
		if err != nil {
			t.Fatalf("GetSession #%d: %v", i+1, err)
		}
		checkSession(t, "GetSession", got, want)
	}
	for i := range 2 {
		// Signing out twice (two tabs) is not an error.
		if err := s.EndSession(ctx, want.IDHash, false); err != nil {
			t.Fatalf("EndSession #%d: %v", i+1, err)
		}
		if _, err := s.GetSession(ctx, want.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession after EndSession #%d: err = %v, want ErrNotFound", i+1, err)
		}
	}
	if err := s.EndSession(ctx, hash("never created"), true); err != nil {
		t.Errorf("EndSession of an unknown session: %v", err)
	}
	got, err := s.GetSession(ctx, other.IDHash, t0)
	if err != nil {
		t.Fatalf("GetSession of the other session: %v", err)
	}
	checkSession(t, "the other session, left alone", got, other)
}

func testEndSessionRevokes(t *testing.T, s store.Store) {
	ctx := t.Context()
	create := func(r store.RefreshToken) {
		t.Helper()
		if err := s.CreateRefreshToken(ctx, r); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
	}
	ended := sampleSession("ended")
	kept := sampleSession("kept")
	for _, sess := range []store.Session{ended, kept} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	// Two grants in the ended session, one already rotated; one grant in
	// another session; one outside any session.
	inA := sampleRefresh("in ended a")
	inA.SessionIDHash = ended.IDHash
	inB := sampleRefresh("in ended b")
	inB.SessionIDHash = ended.IDHash
	inB2 := nextRefresh(inB, "in ended b2")
	inOther := sampleRefresh("in kept")
	inOther.SessionIDHash = kept.IDHash
	noSession := sampleRefresh("no session")
	noSession.SessionIDHash = nil
	for _, r := range []store.RefreshToken{inA, inB, inOther, noSession} {
		create(r)
	}
	if err := s.RotateRefreshToken(ctx, inB.Hash, inB2, t0); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}

	if err := s.EndSession(ctx, kept.IDHash, false); err != nil {
		t.Fatalf("EndSession without revoking: %v", err)
	}
	if err := s.EndSession(ctx, ended.IDHash, true); err != nil {
		t.Fatalf("EndSession with revoking: %v", err)
	}
	// Sign-out from a browser without a session names no family.
	for _, key := range [][]byte{nil, {}} {
		if err := s.EndSession(ctx, key, true); err != nil {
			t.Errorf("EndSession(%q, true): %v", key, err)
		}
	}
	for _, tc := range []struct {
		name string
		hash []byte
		want error
	}{
		{"first grant of the ended session", inA.Hash, store.ErrNotFound},
		{"rotated grant of the ended session, old token", inB.Hash, store.ErrNotFound},
		{"rotated grant of the ended session, new token", inB2.Hash, store.ErrNotFound},
		{"grant of a session ended without revoking", inOther.Hash, nil},
		{"grant outside any session", noSession.Hash, nil},
	} {
		if _, err := s.GetRefreshToken(ctx, tc.hash, t0); !errors.Is(err, tc.want) {
			t.Errorf("%s: GetRefreshToken err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := s.RotateRefreshToken(ctx, inA.Hash, nextRefresh(inA, "in ended a2"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefreshToken in the ended session: err = %v, want ErrNotFound", err)
	}
	for _, sess := range []store.Session{ended, kept} {
		if _, err := s.GetSession(ctx, sess.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession after EndSession: err = %v, want ErrNotFound", err)
		}
	}
}

func checkSession(t *testing.T, what string, got, want store.Session) {
	t.Helper()
	if !bytes.Equal(got.IDHash, want.IDHash) || got.Subject != want.Subject {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
	checkClaims(t, got.Claims, want.Claims)
	checkTime(t, what+" AuthTime", got.AuthTime, want.AuthTime)
	checkTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}
