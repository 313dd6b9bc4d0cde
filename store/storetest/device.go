package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func sampleDevice(name string) store.DeviceCode {
	return store.DeviceCode{
		Hash:         hash("device " + name),
		UserCodeHash: hash("user code " + name),
		ClientID:     "cli",
		Scope:        []string{"openid", "offline_access"},
		Resources:    []string{"https://api.example.com/", "https://photos.example.com/"},
		ExpiresAt:    t0.Add(10 * time.Minute),
		Interval:     5 * time.Second,
	}
}

var approval = store.DeviceDecision{
	Status:   store.DeviceApproved,
	Subject:  "alice",
	Claims:   map[string]any{"role": "admin", "n": 1.5},
	AuthTime: t0.Add(1500 * time.Millisecond),
}

func createDevice(t *testing.T, s store.Store, d store.DeviceCode) {
	t.Helper()
	if err := s.CreateDeviceCode(t.Context(), d); err != nil {
		t.Fatalf("CreateDeviceCode: %v", err)
	}
}

func checkDevice(t *testing.T, what string, got, want store.DeviceCode) {
	t.Helper()
	if string(got.Hash) != string(want.Hash) || string(got.UserCodeHash) != string(want.UserCodeHash) ||
		got.ClientID != want.ClientID || got.Interval != want.Interval || got.Status != want.Status ||
		got.Subject != want.Subject || !slices.Equal(got.Scope, want.Scope) || !slices.Equal(got.Resources, want.Resources) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
	checkTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, what+" LastPolledAt", got.LastPolledAt, want.LastPolledAt)
	checkTime(t, what+" AuthTime", got.AuthTime, want.AuthTime)
	checkClaims(t, got.Claims, want.Claims)
}

// testDeviceLifecycle: pending, polled (with slow_down's longer interval),
// decided once, then consumed by exactly one poll; polls by another client
// are refused and change nothing.
func testDeviceLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := sampleDevice("life")
	d.Status, d.LastPolledAt = store.DeviceApproved, t0 // ignored by create
	createDevice(t, s, d)
	d.Status, d.LastPolledAt = store.DevicePending, time.Time{}

	got, err := s.PendingDeviceCode(ctx, d.UserCodeHash, t0)
	if err != nil {
		t.Fatalf("PendingDeviceCode: %v", err)
	}
	checkDevice(t, "pending", got, d)

	// Another client's poll is refused and records nothing: the first
	// poll below still sees none before it.
	if _, err := s.PollDeviceCode(ctx, d.Hash, "other", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("poll by another client: err = %v, want ErrNotFound", err)
	}
	// First poll: nothing before it. Second, 2 s later: too fast, so the
	// interval grows for the third, which comes 6 s later: still too fast.
	for i, at := range []time.Time{t0, t0.Add(2 * time.Second), t0.Add(8 * time.Second), t0.Add(23 * time.Second)} {
		got, err := s.PollDeviceCode(ctx, d.Hash, "cli", at)
		if err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		checkDevice(t, "poll", got, d)
		switch i {
		case 1:
			d.Interval += store.SlowDownStep
		case 2:
			d.Interval += store.SlowDownStep
		}
		d.LastPolledAt = at
	}
	if d.Interval != 15*time.Second {
		t.Fatalf("the test's own bookkeeping: interval %v", d.Interval)
	}

	if err := s.DecideDeviceCode(ctx, d.UserCodeHash, approval, t0.Add(time.Minute)); err != nil {
		t.Fatalf("DecideDeviceCode: %v", err)
	}
	if err := s.DecideDeviceCode(ctx, d.UserCodeHash, store.DeviceDecision{Status: store.DeviceDenied}, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second decision: err = %v, want ErrNotFound", err)
	}
	if _, err := s.PendingDeviceCode(ctx, d.UserCodeHash, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PendingDeviceCode of a decided code: err = %v, want ErrNotFound", err)
	}
	// Another client cannot consume the decision.
	if _, err := s.PollDeviceCode(ctx, d.Hash, "other", t0.Add(2*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("poll of the approved code by another client: err = %v, want ErrNotFound", err)
	}
	got, err = s.PollDeviceCode(ctx, d.Hash, "cli", t0.Add(2*time.Minute))
	if err != nil {
		t.Fatalf("poll of the approved code: %v", err)
	}
	d.Status, d.Subject, d.Claims, d.AuthTime = approval.Status, approval.Subject, approval.Claims, approval.AuthTime
	checkDevice(t, "approved", got, d)
	if _, err := s.PollDeviceCode(ctx, d.Hash, "cli", t0.Add(2*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("poll after consumption: err = %v, want ErrNotFound", err)
	}
}

// testDeviceExpiry: an expired code cannot be decided or found by its user
// code, polls say ErrExpired, and DeleteExpired removes it.
func testDeviceExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := sampleDevice("expiry")
	createDevice(t, s, d)
	at := d.ExpiresAt
	if _, err := s.PendingDeviceCode(ctx, d.UserCodeHash, at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PendingDeviceCode at expiry: err = %v, want ErrNotFound", err)
	}
	if err := s.DecideDeviceCode(ctx, d.UserCodeHash, approval, at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DecideDeviceCode at expiry: err = %v, want ErrNotFound", err)
	}
	if _, err := s.PollDeviceCode(ctx, d.Hash, "cli", at); !errors.Is(err, store.ErrExpired) {
		t.Errorf("PollDeviceCode at expiry: err = %v, want ErrExpired", err)
	}
	if _, err := s.PollDeviceCode(ctx, d.Hash, "other", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PollDeviceCode at expiry by another client: err = %v, want ErrNotFound", err)
	}
	if _, err := s.PollDeviceCode(ctx, d.Hash, "cli", at.Add(-time.Millisecond)); err != nil {
		t.Errorf("PollDeviceCode a millisecond before expiry: %v", err)
	}
	n, err := s.DeleteExpired(ctx, at)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if _, err := s.PollDeviceCode(ctx, d.Hash, "cli", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PollDeviceCode after DeleteExpired: err = %v, want ErrNotFound", err)
	}
	// The user code is free again.
	createDevice(t, s, store.DeviceCode{Hash: hash("other"), UserCodeHash: d.UserCodeHash, ExpiresAt: at.Add(time.Hour)})
}

// testDeviceKeys: taken and empty keys are refused; a denial reaches the
// device once.
func testDeviceKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := sampleDevice("keys")
	createDevice(t, s, d)
	for name, dup := range map[string]store.DeviceCode{
		"taken device code": {Hash: d.Hash, UserCodeHash: hash("fresh"), ExpiresAt: d.ExpiresAt},
		"taken user code":   {Hash: hash("fresh"), UserCodeHash: d.UserCodeHash, ExpiresAt: d.ExpiresAt},
	} {
		if err := s.CreateDeviceCode(ctx, dup); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("%s: err = %v, want ErrDuplicate", name, err)
		}
	}
	for name, empty := range map[string]store.DeviceCode{
		"no device code": {UserCodeHash: hash("x"), ExpiresAt: d.ExpiresAt},
		"no user code":   {Hash: hash("x"), ExpiresAt: d.ExpiresAt},
	} {
		if err := s.CreateDeviceCode(ctx, empty); err == nil {
			t.Errorf("%s: created", name)
		}
	}
	if _, err := s.PollDeviceCode(ctx, hash("missing"), "cli", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("poll of a missing code: err = %v, want ErrNotFound", err)
	}
	if err := s.DecideDeviceCode(ctx, hash("missing"), approval, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("decision on a missing code: err = %v, want ErrNotFound", err)
	}
	if err := s.DecideDeviceCode(ctx, d.UserCodeHash, store.DeviceDecision{Status: store.DeviceDenied}, t0); err != nil {
		t.Fatalf("deny: %v", err)
	}
	got, err := s.PollDeviceCode(ctx, d.Hash, "cli", t0)
	if err != nil || got.Status != store.DeviceDenied {
		t.Fatalf("poll of a denied code: %v, %v", got.Status, err)
	}
	if _, err := s.PollDeviceCode(ctx, d.Hash, "cli", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second poll of a denied code: err = %v, want ErrNotFound", err)
	}
}

// testConcurrentPollDevice: of many polls of an approved code, exactly one
// gets the approval; and of many decisions, exactly one is recorded.
func testConcurrentPollDevice(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range rounds {
		d := sampleDevice("race " + string(rune('a'+round)))
		createDevice(t, s, d)
		race(t, store.ErrNotFound, func(int) error {
			return s.DecideDeviceCode(ctx, d.UserCodeHash, approval, t0)
		})
		race(t, store.ErrNotFound, func(int) error {
			got, err := s.PollDeviceCode(ctx, d.Hash, "cli", t0)
			if err == nil && got.Status != store.DeviceApproved {
				t.Errorf("the winning poll saw %q", got.Status)
			}
			return err
		})
	}
}
