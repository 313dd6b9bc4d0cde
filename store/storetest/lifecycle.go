package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func testUseRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	id, exp := requestID("a"), t0.Add(time.Minute)
	if err := s.UseRequest(ctx, id, exp, t0); err != nil {
		t.Fatalf("UseRequest: %v", err)
	}
	// Used again while the record lives: refused, every time.
	for i, now := range []time.Time{t0, t0.Add(30 * time.Second), exp.Add(-time.Millisecond)} {
		if err := s.UseRequest(ctx, id, exp, now); !errors.Is(err, store.ErrReused) {
			t.Fatalf("UseRequest #%d: err = %v, want ErrReused", i+2, err)
		}
	}
	// Another id is another request.
	if err := s.UseRequest(ctx, requestID("b"), exp, t0); err != nil {
		t.Fatalf("UseRequest of another id: %v", err)
	}
	// Once expired, the record counts as absent: the id may be used again,
	// and is then recorded until its new expiry.
	later := exp.Add(time.Hour)
	if err := s.UseRequest(ctx, id, later, exp); err != nil {
		t.Fatalf("UseRequest once the record expired: %v", err)
	}
	if err := s.UseRequest(ctx, id, later, later.Add(-time.Millisecond)); !errors.Is(err, store.ErrReused) {
		t.Errorf("UseRequest before the new expiry: err = %v, want ErrReused", err)
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
