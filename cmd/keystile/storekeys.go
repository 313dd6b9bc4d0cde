package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/storekeys"
	"github.com/keystile/keystile/store"
)

// newKeeper returns the keeper of the signing keys kept in st (see
// config_keys.go).
func newKeeper(st store.SigningKeys, s *settings, log *slog.Logger) (*storekeys.Keeper, error) {
	sealer, err := storekeys.NewSealer(s.StoreKeys.Secret)
	if err != nil {
		return nil, err
	}
	return storekeys.New(storekeys.Config{
		Store:       st,
		Algorithm:   s.Algorithm,
		Sealer:      sealer,
		RotateEvery: s.StoreKeys.RotateEvery,
		Prepublish:  s.StoreKeys.Prepublish,
		Refresh:     s.StoreKeys.Refresh,
		Grace:       s.AccessTTL + keystile.DefaultLeeway,
		Log:         log,
	}), nil
}

// storeSigningKeys starts the keeper of the keys in st: the first start
// creates a key there. Run the keeper afterwards to follow rotations.
func storeSigningKeys(ctx context.Context, st store.SigningKeys, s *settings, log *slog.Logger) (*storekeys.Keeper, []keystile.SigningKey, error) {
	k, err := newKeeper(st, s, log)
	if err != nil {
		return nil, nil, err
	}
	keys, err := k.Start(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("signing keys in the store: %w", err)
	}
	if s.StoreKeys.prepublishShort() {
		log.Warn("signing.prepublish is shorter than the JWKS cache period plus signing.refresh_every: remote verifiers may meet a new key's tokens before they see the key",
			"prepublish", s.StoreKeys.Prepublish, "jwks_cache", jwksCachePeriod, "refresh_every", s.StoreKeys.Refresh)
	}
	log.Info("signing keys are kept in the store", "rotate_every", s.StoreKeys.RotateEvery,
		"prepublish", s.StoreKeys.Prepublish, "refresh_every", s.StoreKeys.Refresh, "sealed", len(s.StoreKeys.Secret) > 0)
	return k, keys, nil
}

// sharedStore is what serve needs of a store: the server's records, and
// the signing keys when they live there. Every backend is one.
type sharedStore interface {
	store.Store
	store.SigningKeys
}

// rotateTimeout bounds `keystile rotate-key` against a store.
const rotateTimeout = time.Minute

// rotateStoreKey is `keystile rotate-key` for keys in the store: the next
// key is published at once by every replica (within signing.refresh_every)
// and signs from signing.prepublish on; no signal is needed.
func rotateStoreKey(s *settings, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), rotateTimeout)
	defer cancel()
	st, err := openStore(ctx, s.Store, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	k, err := newKeeper(st, s, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if _, err := k.Start(ctx); err != nil {
		return fmt.Errorf("signing keys in the store: %w", err)
	}
	key, activeAt, created, err := k.Rotate(ctx)
	if err != nil {
		return err
	}
	what := "a new"
	if !created {
		what = "another process's new"
	}
	_, err = fmt.Fprintf(stdout, `keystile: the store holds %s %s key, kid %s.
Every server publishes it within %s and signs with it from %s.
The previous key keeps verifying until its tokens expire. No signal or restart is needed.
`, what, key.Algorithm(), key.KeyID(), s.StoreKeys.Refresh, activeAt.UTC().Format(time.RFC3339))
	return err
}

// processStart is when this process started: the birth of an HS256 secret,
// which is read at start only.
var processStart = time.Now()

// keyBirth returns when the key that signs now started signing: its
// activation for keys in the store, the key file's last change (a rotation
// rewrites it) for keys in a file.
func keyBirth(s *settings, keeper *storekeys.Keeper) time.Time {
	switch {
	case keeper != nil:
		return keeper.SigningSince(time.Now())
	case s.KeyFile != "":
		if fi, err := os.Stat(s.KeyFile); err == nil {
			return fi.ModTime()
		}
	}
	return processStart
}
