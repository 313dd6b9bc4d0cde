package storekeys

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/memory"
)

const (
	prepublish = 6 * time.Minute
	refresh    = 30 * time.Second
	grace      = 15*time.Minute + keystile.DefaultLeeway
	rotate     = 30 * 24 * time.Hour
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newKeeper(st store.SigningKeys, clock *testutil.Clock, secret string) *Keeper {
	s, err := NewSealer([]byte(secret))
	if err != nil {
		panic(err)
	}
	return New(Config{Store: st, Algorithm: keystile.AlgEdDSA, Sealer: s, RotateEvery: rotate,
		Prepublish: prepublish, Refresh: refresh, Grace: grace, Log: slog.New(slog.DiscardHandler), Now: clock.Now})
}

func kids(keys []keystile.SigningKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.KeyID()
	}
	return out
}

// TestConcurrentFirstStart is replicas starting together on an empty store:
// exactly one key is created, and every replica signs with it.
func TestConcurrentFirstStart(t *testing.T) {
	st := memory.New()
	clock := testutil.StoppedClock(t0)
	const replicas = 10
	signers := make([]string, replicas)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range replicas {
		wg.Go(func() {
			<-start
			keys, err := newKeeper(st, clock, "").Start(t.Context())
			if err != nil {
				t.Errorf("Start: %v", err)
				return
			}
			signers[i] = keys[0].KeyID()
		})
	}
	close(start)
	wg.Wait()
	recs, _ := st.ListSigningKeys(t.Context())
	if len(recs) != 1 {
		t.Fatalf("%d keys in the store, want exactly 1", len(recs))
	}
	for i, s := range signers {
		if s != recs[0].KeyID {
			t.Errorf("replica %d signs with %q, want the one key %q", i, s, recs[0].KeyID)
		}
	}
}

// TestRotationLifecycle follows one rotation: the new key verifies before
// it signs, takes over at its activation, and the old one verifies until
// its tokens have expired and is then deleted from the store.
func TestRotationLifecycle(t *testing.T) {
	st := memory.New()
	clock := testutil.StoppedClock(t0)
	k := newKeeper(st, clock, "")
	keys, err := k.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	old := keys[0].KeyID()
	next, activeAt, created, err := k.Rotate(t.Context())
	if err != nil || !created {
		t.Fatalf("Rotate: created %v, %v", created, err)
	}
	if !activeAt.Equal(t0.Add(prepublish)) {
		t.Errorf("the new key signs from %s, want now + prepublish", activeAt)
	}
	var got []keystile.SigningKey
	set := func(keys []keystile.SigningKey) error { got = keys; return nil }
	for _, step := range []struct {
		at   time.Duration
		want []string
	}{
		{0, []string{old, next.KeyID()}},                                               // published, not signing
		{prepublish - time.Millisecond, []string{old, next.KeyID()}},                   // still not
		{prepublish, []string{next.KeyID(), old}},                                      // signs; the old one verifies
		{prepublish + refresh + grace - time.Millisecond, []string{next.KeyID(), old}}, // last moment
		{prepublish + refresh + grace, []string{next.KeyID()}},                         // its tokens have expired
	} {
		clock.Advance(t0.Add(step.at).Sub(clock.Now()))
		got = nil
		k.tick(t.Context(), set)
		if list := kids(k.List(clock.Now())); strings.Join(list, " ") != strings.Join(step.want, " ") {
			t.Errorf("at +%s: keys %v, want %v", step.at, list, step.want)
		}
		if got != nil && kids(got)[0] != step.want[0] {
			t.Errorf("at +%s: set gave signer %s, want %s", step.at, kids(got)[0], step.want[0])
		}
	}
	if recs, _ := st.ListSigningKeys(t.Context()); len(recs) != 1 || recs[0].KeyID != next.KeyID() {
		t.Errorf("the store keeps %d keys after the old one expired, want only the new one", len(recs))
	}
}

// TestScheduledRotationHappensOnce: two replicas both find the newest key
// too old; exactly one new key is created.
func TestScheduledRotationHappensOnce(t *testing.T) {
	st := memory.New()
	clock := testutil.StoppedClock(t0)
	a, b := newKeeper(st, clock, ""), newKeeper(st, clock, "")
	if _, err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(rotate)
	nop := func([]keystile.SigningKey) error { return nil }
	var wg sync.WaitGroup
	wg.Go(func() { a.tick(t.Context(), nop) })
	wg.Go(func() { b.tick(t.Context(), nop) })
	wg.Wait()
	if recs, _ := st.ListSigningKeys(t.Context()); len(recs) != 2 {
		t.Errorf("%d keys after both replicas rotated, want 2 (one rotation)", len(recs))
	}
	if strings.Join(kids(a.List(clock.Now())), " ") != strings.Join(kids(b.List(clock.Now())), " ") {
		t.Error("the replicas disagree on the keys")
	}
}

const secret = "0123456789abcdef0123456789abcdef-key-encryption"

// TestSealedKeys: with a key-encryption secret the store holds no PEM, and
// a replica without the secret, with another one, or facing a plain or
// altered row refuses the keys instead of using them.
func TestSealedKeys(t *testing.T) {
	ctx := t.Context()
	st := memory.New()
	clock := testutil.StoppedClock(t0)
	if _, err := newKeeper(st, clock, secret).Start(ctx); err != nil {
		t.Fatalf("Start sealed: %v", err)
	}
	recs, _ := st.ListSigningKeys(ctx)
	if bytes.Contains(recs[0].Material, []byte("PRIVATE KEY")) {
		t.Fatal("the store holds the key in plain PEM although a secret is configured")
	}
	if _, err := newKeeper(st, clock, secret).Start(ctx); err != nil {
		t.Errorf("a second replica with the secret: %v", err)
	}
	for name, s := range map[string]string{"no secret": "", "another secret": strings.Repeat("x", 40)} {
		_, err := newKeeper(st, clock, s).Start(ctx)
		if err == nil {
			t.Errorf("%s: Start succeeded on sealed keys", name)
		} else if strings.Contains(err.Error(), string(recs[0].Material[:8])) {
			t.Errorf("%s: the error quotes the material", name)
		}
	}

	// A row moved to another activation time does not open.
	altered := memory.New()
	rec := recs[0]
	rec.ActiveAt = rec.ActiveAt.Add(time.Hour)
	if err := altered.AddSigningKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := newKeeper(altered, clock, secret).Start(ctx); err == nil {
		t.Error("an altered row opened")
	}

	// A plain key where sealed ones are expected is refused.
	plain := memory.New()
	if _, err := newKeeper(plain, clock, "").Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := newKeeper(plain, clock, secret).Start(ctx); err == nil || !strings.Contains(err.Error(), "not encrypted") {
		t.Errorf("a plain key with a secret configured: %v, want a refusal", err)
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("NewSealer took a 5-byte secret")
	}
}

// TestRunSwitchesAtActivation: Run wakes at the activation time, not only
// every Refresh.
func TestRunSwitchesAtActivation(t *testing.T) {
	st := memory.New()
	clock := testutil.StoppedClock(t0)
	k := newKeeper(st, clock, "")
	if _, err := k.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := k.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := k.wake(clock.Now()); d != refresh {
		t.Errorf("wake with the activation %s away = %s, want Refresh", prepublish, d)
	}
	clock.Advance(prepublish - time.Second)
	if d := k.wake(clock.Now()); d != time.Second {
		t.Errorf("wake a second before the activation = %s, want 1s", d)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	k.Run(ctx, func([]keystile.SigningKey) error { return nil }) // returns at once
}
