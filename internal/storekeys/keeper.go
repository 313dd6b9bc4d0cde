// Package storekeys keeps a server's signing keys in its store, so that the
// replicas sharing one store share their keys: created at the first start,
// rotated on a schedule with pre-publication, read again by every replica
// every few seconds, and optionally sealed with a key-encryption secret
// (see Sealer).
//
// The keys are generations 1, 2, …; each has an activation time. At any
// moment the newest generation whose activation has passed signs; a newer
// one (pre-published) only verifies, and appears in the JWKS, so that remote
// verifiers know it before it signs; an older one verifies until every
// token it signed has expired. The lists it builds are what
// keystile.Config.Keys and Server.SetKeys take.
package storekeys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/keyfile"
	"github.com/keystile/keystile/store"
)

// Config configures a Keeper.
type Config struct {
	Store     store.SigningKeys
	Algorithm string // of the keys it creates: RS256, ES256 or EdDSA
	Sealer    *Sealer
	// RotateEvery is how old the newest key may grow before a replica
	// creates the next one; 0 never rotates on its own.
	RotateEvery time.Duration
	// Prepublish is how long a new key verifies, and is published, before
	// it signs. It must cover a replica's Refresh (until every replica
	// publishes it) plus the time remote verifiers cache the JWKS.
	Prepublish time.Duration
	// Refresh is how often Run reads the keys again.
	Refresh time.Duration
	// Grace is how long a key verifies after it stopped signing: the
	// servers' access token lifetime plus the verifiers' leeway.
	Grace time.Duration
	Log   *slog.Logger
	Now   func() time.Time // default time.Now
}

// Keeper reads, creates and rotates the keys in a store. It is safe for
// concurrent use.
type Keeper struct {
	cfg Config

	mu   sync.Mutex
	keys []stored // newest generation first; empty until Start
	last string   // what Run last gave the server (see describe)
}

// stored is one key of the store, opened.
type stored struct {
	rec store.StoredKey // Material cleared
	key keystile.SigningKey
}

// New returns a Keeper; call Start before anything else.
func New(cfg Config) *Keeper {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sealer == nil {
		cfg.Sealer = &Sealer{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Keeper{cfg: cfg}
}

// Start reads the keys, creating the first one if the store has none (of
// several replicas starting at once, one creates it and all use it), and
// returns the server's keys.
func (k *Keeper) Start(ctx context.Context) ([]keystile.SigningKey, error) {
	if err := k.read(ctx); err != nil {
		return nil, err
	}
	if k.newest().rec.Generation == 0 {
		// The first key signs at once: nobody can have cached a JWKS yet.
		now := k.cfg.Now()
		if err := k.add(ctx, 1, now, now); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return nil, err
		}
		if err := k.read(ctx); err != nil {
			return nil, err
		}
	}
	if n := k.newest(); n.rec.Algorithm != k.cfg.Algorithm {
		k.cfg.Log.Warn("the newest signing key in the store is of another algorithm; the next rotation creates one of signing.algorithm",
			"kid", n.rec.KeyID, "store_algorithm", n.rec.Algorithm, "algorithm", k.cfg.Algorithm)
	}
	keys := k.List(k.cfg.Now())
	k.mu.Lock()
	k.last = describe(keys)
	k.mu.Unlock()
	return keys, nil
}

// Rotate creates the next generation, which signs from Prepublish after
// now. If another replica created that generation first, Rotate returns
// its key and created false. It is what `keystile rotate-key` and the
// schedule call.
func (k *Keeper) Rotate(ctx context.Context) (key keystile.SigningKey, activeAt time.Time, created bool, err error) {
	if err := k.read(ctx); err != nil {
		return key, activeAt, false, err
	}
	return k.rotateAfter(ctx, k.newest().rec.Generation)
}

// rotateAfter adds generation gen+1 unless another replica already has.
// A scheduled rotation passes the generation it found too old, not the one
// it reads now: two replicas that both found generation gen too old then
// race for the same gen+1, and exactly one key is made.
func (k *Keeper) rotateAfter(ctx context.Context, gen int64) (key keystile.SigningKey, activeAt time.Time, created bool, err error) {
	now := k.cfg.Now()
	next := gen + 1
	err = k.add(ctx, next, now, now.Add(k.cfg.Prepublish))
	created = err == nil
	if err != nil && !errors.Is(err, store.ErrDuplicate) {
		return key, activeAt, false, err
	}
	// Ours or the replica's that was quicker: read it back either way.
	if err := k.read(ctx); err != nil {
		return key, activeAt, false, err
	}
	n := k.newest()
	return n.key, n.rec.ActiveAt, created, nil
}

// add generates a key of generation gen and stores it; ErrDuplicate if the
// generation (or, impossibly, the key id) is taken. The caller reads the
// keys again, whoever won.
func (k *Keeper) add(ctx context.Context, gen int64, now, activeAt time.Time) error {
	pem, key, err := keyfile.Generate(k.cfg.Algorithm, now)
	if err != nil {
		return err
	}
	rec := store.StoredKey{
		Generation: gen,
		KeyID:      key.KeyID(),
		Algorithm:  key.Algorithm(),
		CreatedAt:  now.Truncate(time.Millisecond),
		ActiveAt:   activeAt.Truncate(time.Millisecond),
	}
	rec.Material = k.cfg.Sealer.seal(pem, rec)
	if err := k.cfg.Store.AddSigningKey(ctx, rec); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return err
		}
		return fmt.Errorf("storing a new signing key: %w", err)
	}
	k.cfg.Log.Info("created a signing key in the store", "generation", gen, "kid", rec.KeyID,
		"algorithm", rec.Algorithm, "signs_from", rec.ActiveAt, "sealed", k.cfg.Sealer.Sealing())
	return nil
}

// Load reads the keys in the store and returns the server's keys at now,
// writing nothing: it is how `keystile check` proves that every stored key
// opens with the configured key-encryption secret. An empty store gives no
// keys and no error (serve would create the first one).
func (k *Keeper) Load(ctx context.Context) ([]keystile.SigningKey, error) {
	if err := k.read(ctx); err != nil {
		return nil, err
	}
	return k.List(k.cfg.Now()), nil
}

// read replaces the keys by the store's. A key that does not open or parse
// fails the read, and the keys stay as they were.
func (k *Keeper) read(ctx context.Context) error {
	recs, err := k.cfg.Store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("reading the signing keys: %w", err)
	}
	keys := make([]stored, 0, len(recs))
	for _, rec := range recs {
		plain, err := k.cfg.Sealer.open(rec)
		if err != nil {
			return fmt.Errorf("signing key %s (generation %d) in the store: %w", rec.KeyID, rec.Generation, err)
		}
		parsed, err := keyfile.Parse(plain)
		if err == nil && (len(parsed) != 1 || parsed[0].KeyID() != rec.KeyID) {
			err = errors.New("its material is not the key its row names")
		}
		if err != nil {
			return fmt.Errorf("signing key %s (generation %d) in the store: %w", rec.KeyID, rec.Generation, err)
		}
		rec.Material = nil
		keys = append(keys, stored{rec: rec, key: parsed[0]})
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

func (k *Keeper) newest() stored {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 {
		return stored{}
	}
	return k.keys[0]
}

// List returns the server's keys at now: the newest active key signs; newer
// (pre-published) keys verify; each older key is retired when its
// successor's activation passed, plus one Refresh, by when every replica
// has switched, and verifies for Grace after that.
func (k *Keeper) List(now time.Time) []keystile.SigningKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	signer := slices.IndexFunc(k.keys, func(s stored) bool { return !s.rec.ActiveAt.After(now) })
	if signer < 0 {
		signer = len(k.keys) - 1 // none active yet: the oldest signs
	}
	if signer < 0 {
		return nil
	}
	out := []keystile.SigningKey{k.keys[signer].key}
	for _, s := range k.keys[:signer] {
		out = append(out, s.key)
	}
	for i := signer + 1; i < len(k.keys); i++ {
		retired := k.keys[i-1].rec.ActiveAt.Add(k.cfg.Refresh)
		if now.Before(retired.Add(k.cfg.Grace)) {
			out = append(out, k.keys[i].key.Retire(retired))
		}
	}
	return out
}

// dead returns the generation below which every key has stopped verifying
// at now, or 0.
func (k *Keeper) dead(now time.Time) int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := 1; i < len(k.keys); i++ {
		retired := k.keys[i-1].rec.ActiveAt.Add(k.cfg.Refresh)
		if !now.Before(retired.Add(k.cfg.Grace)) {
			return k.keys[i-1].rec.Generation
		}
	}
	return 0
}

// wake returns when Run should next look: after Refresh, or at the next
// activation if that comes sooner, so that every replica switches signers
// within moments of each other.
func (k *Keeper) wake(now time.Time) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	d := k.cfg.Refresh
	for _, s := range k.keys {
		if a := s.rec.ActiveAt.Sub(now); a > 0 && a < d {
			d = a
		}
	}
	return d
}

// Run reads the keys every Refresh until ctx is done, rotates when the
// newest key is RotateEvery old, deletes keys that no longer verify, and
// gives set the server's keys whenever they change. A failed read keeps
// the keys it had, and an activation still happens on time.
func (k *Keeper) Run(ctx context.Context, set func([]keystile.SigningKey) error) {
	for {
		t := time.NewTimer(k.wake(k.cfg.Now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		k.tick(ctx, set)
	}
}

func (k *Keeper) tick(ctx context.Context, set func([]keystile.SigningKey) error) {
	if err := k.read(ctx); err != nil {
		if ctx.Err() == nil {
			k.cfg.Log.Warn("reading the signing keys from the store failed; keeping the ones read before", "err", err)
		}
	}
	now := k.cfg.Now()
	if n := k.newest(); k.cfg.RotateEvery > 0 && n.rec.Generation > 0 && !now.Before(n.rec.CreatedAt.Add(k.cfg.RotateEvery)) {
		if _, _, _, err := k.rotateAfter(ctx, n.rec.Generation); err != nil && ctx.Err() == nil {
			k.cfg.Log.Error("rotating the signing key failed", "err", err)
		}
	}
	if gen := k.dead(now); gen > 0 {
		if n, err := k.cfg.Store.DeleteSigningKeys(ctx, gen); err != nil && ctx.Err() == nil {
			k.cfg.Log.Warn("deleting expired signing keys failed", "err", err)
		} else if n > 0 {
			k.cfg.Log.Info("deleted signing keys whose tokens have expired", "count", n)
		}
	}
	keys := k.List(now)
	desc := describe(keys)
	k.mu.Lock()
	changed := desc != k.last
	k.mu.Unlock()
	if !changed || len(keys) == 0 {
		return
	}
	if err := set(keys); err != nil {
		k.cfg.Log.Error("using the signing keys from the store failed; the keys are unchanged", "err", err)
		return
	}
	k.mu.Lock()
	k.last = desc
	k.mu.Unlock()
	k.cfg.Log.Info("signing keys updated from the store", "kid", keys[0].KeyID(), "keys", len(keys))
}

// describe names a key list by its key ids in order, to notice a change.
func describe(keys []keystile.SigningKey) string {
	ids := make([]string, len(keys))
	for i, key := range keys {
		ids[i] = key.KeyID()
	}
	return strings.Join(ids, " ")
}

// SigningSince returns when the key that signs at now started signing (its
// activation), or the zero time before Start.
func (k *Keeper) SigningSince(now time.Time) time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range k.keys {
		if !s.rec.ActiveAt.After(now) {
			return s.rec.ActiveAt
		}
	}
	if len(k.keys) > 0 {
		return k.keys[len(k.keys)-1].rec.ActiveAt
	}
	return time.Time{}
}
