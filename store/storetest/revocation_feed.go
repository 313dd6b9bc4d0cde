package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// feedWait bounds how long a case waits for a notice to arrive: the test
// asserts that it arrives, not how fast.
const feedWait = 10 * time.Second

// recordingSink is what a follower is told, for a case to wait on.
type recordingSink struct {
	mu     sync.Mutex
	resets int
	jtis   map[string]time.Time
	lost   int
}

func (r *recordingSink) Reset(live []store.Revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resets++
	r.jtis = map[string]time.Time{}
	for _, rv := range live {
		r.jtis[rv.JTI] = rv.ExpiresAt
	}
}

func (r *recordingSink) Add(rv store.Revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jtis == nil {
		r.jtis = map[string]time.Time{} // an Add before the first Reset, against the contract: waitFor still wants a reset
	}
	r.jtis[rv.JTI] = rv.ExpiresAt
}

func (r *recordingSink) Lost(error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lost++
}

// waitFor waits until the sink holds jti with the expiry exp, after at
// least one reset.
func (r *recordingSink) waitFor(t *testing.T, jti string, exp time.Time) {
	t.Helper()
	deadline := time.Now().Add(feedWait)
	for {
		r.mu.Lock()
		got, ok := r.jtis[jti]
		resets := r.resets
		r.mu.Unlock()
		if resets > 0 && ok && got.Equal(exp) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the follower holds %q = %v, %v (resets %d); want expiry %v", feedWait, jti, got, ok, resets, exp)
		}
		time.Sleep(time.Millisecond)
	}
}

// follow runs feed's FollowRevocations into a new sink until the test
// ends, and checks that it then returns ctx's error.
func follow(t *testing.T, feed store.RevocationFeed) *recordingSink {
	t.Helper()
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feed.FollowRevocations(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("FollowRevocations returned %v, want context.Canceled", err)
		}
	})
	return sink
}

// testRevocationFeed: a follower starts from the revocations already made
// (the lapsed may be among them), hears of each later one with its expiry
// (the later of two, as the store keeps), and is never told it lost any.
func testRevocationFeed(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Expiries far from the wall clock: a backend may leave out lapsed
	// entries from its first reset, judged at its own clock.
	future := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
	if err := s.RevokeAccessToken(ctx, "jti before", future); err != nil {
		t.Fatal(err)
	}
	sink := follow(t, s.(store.RevocationFeed))
	sink.waitFor(t, "jti before", future)
	if err := s.RevokeAccessToken(ctx, "jti after", future.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "jti after", future.Add(time.Minute))
	if err := s.RevokeAccessToken(ctx, "jti before", future.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "jti before", future.Add(2*time.Minute))
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.lost != 0 {
		t.Errorf("the follower was told %d times that it lost revocations", sink.lost)
	}
}

// testSharedRevocationFeed: a revocation made through one store reaches
// the follower of another store on the same database: another replica.
func testSharedRevocationFeed(t *testing.T, open func() store.Store) {
	follower, revoker := open(), open()
	feed, ok := follower.(closeOnce).Store.(store.RevocationFeed)
	if !ok {
		t.Fatal("the backend lost its RevocationFeed role")
	}
	sink := follow(t, feed)
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
	// The first reset, then a revocation: it must come as a notice.
	sink.waitForReset(t)
	if err := revoker.RevokeAccessToken(t.Context(), "jti elsewhere", exp); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "jti elsewhere", exp)
}

func (r *recordingSink) waitForReset(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(feedWait)
	for {
		r.mu.Lock()
		resets := r.resets
		r.mu.Unlock()
		if resets > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reset after %v", feedWait)
		}
		time.Sleep(time.Millisecond)
	}
}
