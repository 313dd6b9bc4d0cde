package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func testRequestLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleRequest("a")
	if err := s.CreateAuthRequest(ctx, want); err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	// Reading must not consume: the login form is shown, then posted.
	for i := range 2 {
		got, err := s.GetAuthRequest(ctx, want.IDHash, t0)
		if err != nil {
			t.Fatalf("GetAuthRequest #%d: %v", i+1, err)
		}
		checkRequest(t, "GetAuthRequest", got, want)
	}
	got, err := s.ConsumeAuthRequest(ctx, want.IDHash, t0)
	if err != nil {
		t.Fatalf("ConsumeAuthRequest: %v", err)
	}
	checkRequest(t, "ConsumeAuthRequest", got, want)
	if _, err := s.ConsumeAuthRequest(ctx, want.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second ConsumeAuthRequest: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetAuthRequest(ctx, want.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAuthRequest after consume: err = %v, want ErrNotFound", err)
	}
}

func testCodeLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleCode("a")
	if err := s.CreateCode(ctx, want); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	got, err := s.ConsumeCode(ctx, want.Hash, t0)
	if err != nil {
		t.Fatalf("ConsumeCode: %v", err)
	}
	checkCode(t, "ConsumeCode", got, want)
	// A replay is told apart from an unknown code for as long as the code
	// lives, every time, and the caller gets the record to see what the
	// code was issued for.
	for i, now := range []time.Time{t0, t0.Add(30 * time.Second), want.ExpiresAt.Add(-time.Millisecond)} {
		got, err := s.ConsumeCode(ctx, want.Hash, now)
		if !errors.Is(err, store.ErrReused) {
			t.Fatalf("ConsumeCode #%d: err = %v, want ErrReused", i+2, err)
		}
		checkCode(t, "the reused code", got, want)
	}
	if _, err := s.ConsumeCode(ctx, want.Hash, want.ExpiresAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ConsumeCode of the used code once expired: err = %v, want ErrNotFound", err)
	}
}
