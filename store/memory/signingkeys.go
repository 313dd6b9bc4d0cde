package memory

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

// AddSigningKey implements [store.SigningKeys].
func (s *Store) AddSigningKey(ctx context.Context, k store.StoredKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if k.Generation < 1 || k.KeyID == "" || len(k.Material) == 0 {
		return errors.New("memory: add signing key: empty key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.keys {
		if o.Generation == k.Generation || o.KeyID == k.KeyID {
			return store.ErrDuplicate
		}
	}
	k.Material = slices.Clone(k.Material)
	k.CreatedAt = k.CreatedAt.Truncate(time.Millisecond).UTC()
	k.ActiveAt = k.ActiveAt.Truncate(time.Millisecond).UTC()
	s.keys = append(s.keys, k)
	return nil
}

// ListSigningKeys implements [store.SigningKeys].
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.StoredKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.StoredKey, len(s.keys))
	for i, k := range s.keys {
		k.Material = slices.Clone(k.Material)
		out[i] = k
	}
	slices.SortFunc(out, func(a, b store.StoredKey) int { return cmp.Compare(b.Generation, a.Generation) })
	return out, nil
}

// DeleteSigningKeys implements [store.SigningKeys].
func (s *Store) DeleteSigningKeys(ctx context.Context, below int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.keys)
	s.keys = slices.DeleteFunc(s.keys, func(k store.StoredKey) bool { return k.Generation < below })
	return int64(n - len(s.keys)), nil
}
