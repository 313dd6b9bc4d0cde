package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func sampleKey(gen int64) store.StoredKey {
	return store.StoredKey{
		Generation: gen,
		KeyID:      fmt.Sprintf("kid-%d", gen),
		Algorithm:  "ES256",
		Material:   []byte(fmt.Sprintf("sealed \x00\xff key %d", gen)),
		CreatedAt:  t0.Add(time.Duration(gen)*time.Hour + 123456789),
		ActiveAt:   t0.Add(time.Duration(gen)*time.Hour + 5*time.Minute),
	}
}

// signingKeysOf returns s's signing keys. Run registers these cases only
// for a backend with the role.
func signingKeysOf(t *testing.T, s store.Store) store.SigningKeys {
	t.Helper()
	k, ok := s.(store.SigningKeys)
	if !ok {
		t.Fatal("the backend keeps no signing keys")
	}
	return k
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	ks := signingKeysOf(t, s)
	if got, err := ks.ListSigningKeys(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListSigningKeys on an empty store = %v, %v; want none", got, err)
	}
	for _, gen := range []int64{1, 2, 3} {
		if err := ks.AddSigningKey(ctx, sampleKey(gen)); err != nil {
			t.Fatalf("AddSigningKey(%d): %v", gen, err)
		}
	}
	taken := sampleKey(2)
	taken.KeyID = "another"
	if err := ks.AddSigningKey(ctx, taken); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("AddSigningKey of a taken generation: err = %v, want ErrDuplicate", err)
	}
	sameKid := sampleKey(4)
	sameKid.KeyID = sampleKey(1).KeyID
	if err := ks.AddSigningKey(ctx, sameKid); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("AddSigningKey of a taken key id: err = %v, want ErrDuplicate", err)
	}
	for _, bad := range []store.StoredKey{{Generation: 0, KeyID: "x", Material: []byte("m")}, {Generation: 9, Material: []byte("m")}, {Generation: 9, KeyID: "x"}} {
		if err := ks.AddSigningKey(ctx, bad); err == nil || errors.Is(err, store.ErrDuplicate) {
			t.Errorf("AddSigningKey(%+v): err = %v, want a refusal", bad, err)
		}
	}
	got, err := ks.ListSigningKeys(ctx)
	if err != nil {
		t.Fatalf("ListSigningKeys: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("ListSigningKeys returned %d keys, want 3", len(got))
	}
	for i, gen := range []int64{3, 2, 1} {
		want := sampleKey(gen)
		want.CreatedAt = want.CreatedAt.Truncate(time.Millisecond)
		want.ActiveAt = want.ActiveAt.Truncate(time.Millisecond)
		k := got[i]
		if k.Generation != want.Generation || k.KeyID != want.KeyID || k.Algorithm != want.Algorithm ||
			!bytes.Equal(k.Material, want.Material) || !k.CreatedAt.Equal(want.CreatedAt) || !k.ActiveAt.Equal(want.ActiveAt) ||
			k.CreatedAt.Location() != time.UTC {
			t.Errorf("key %d = %+v, want %+v", i, k, want)
		}
	}
	got[0].Material[0] = 'X'
	if again, _ := ks.ListSigningKeys(ctx); again[0].Material[0] == 'X' {
		t.Error("changing a returned key's material changed the store")
	}
	if n, err := ks.DeleteSigningKeys(ctx, 3); err != nil || n != 2 {
		t.Errorf("DeleteSigningKeys(3) = %d, %v; want 2", n, err)
	}
	if got, _ := ks.ListSigningKeys(ctx); len(got) != 1 || got[0].Generation != 3 {
		t.Errorf("after DeleteSigningKeys(3): %+v, want generation 3 alone", got)
	}
}

// testConcurrentAddSigningKey is two replicas starting (or rotating) at
// once, fifty times over: exactly one creates the generation.
func testConcurrentAddSigningKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	ks := signingKeysOf(t, s)
	race(t, store.ErrDuplicate, func(i int) error {
		k := sampleKey(1)
		k.KeyID = fmt.Sprintf("racer-%d", i)
		return ks.AddSigningKey(ctx, k)
	})
	if got, err := ks.ListSigningKeys(ctx); err != nil || len(got) != 1 {
		t.Errorf("after the race: %d keys, %v; want exactly 1", len(got), err)
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
