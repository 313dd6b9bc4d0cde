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
	if err := useRequest(ctx, s, id, exp, t0); err != nil {
		t.Fatalf("useRequest: %v", err)
	}
	// Used again while the record lives: refused, every time.
	for i, now := range []time.Time{t0, t0.Add(30 * time.Second), exp.Add(-time.Millisecond)} {
		if err := useRequest(ctx, s, id, exp, now); !errors.Is(err, store.ErrReused) {
			t.Fatalf("useRequest #%d: err = %v, want ErrReused", i+2, err)
		}
	}
	// Another id is another request.
	if err := useRequest(ctx, s, requestID("b"), exp, t0); err != nil {
		t.Fatalf("useRequest of another id: %v", err)
	}
	// Once expired, the record counts as absent: the id may be used again,
	// and is then recorded until its new expiry.
	later := exp.Add(time.Hour)
	if err := useRequest(ctx, s, id, later, exp); err != nil {
		t.Fatalf("useRequest once the record expired: %v", err)
	}
	if err := useRequest(ctx, s, id, later, later.Add(-time.Millisecond)); !errors.Is(err, store.ErrReused) {
		t.Errorf("useRequest before the new expiry: err = %v, want ErrReused", err)
	}
}

func testCodeLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleCode("a")
	if err := s.CreateCode(ctx, want); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	got, err := consume(ctx, s, want.Hash, t0)
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	checkCode(t, "consume", got, want)
	// A replay is told apart from an unknown code for as long as the code
	// lives, every time, and the caller gets the record to see what the
	// code was issued for.
	for i, now := range []time.Time{t0, t0.Add(30 * time.Second), want.ExpiresAt.Add(-time.Millisecond)} {
		got, err := consume(ctx, s, want.Hash, now)
		if !errors.Is(err, store.ErrReused) {
			t.Fatalf("consume #%d: err = %v, want ErrReused", i+2, err)
		}
		checkCode(t, "the reused code", got, want)
	}
	if _, err := consume(ctx, s, want.Hash, want.ExpiresAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("consume of the used code once expired: err = %v, want ErrNotFound", err)
	}
}
