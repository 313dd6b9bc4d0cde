package keystile

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/memory"
)

// countedReads is a real memory store, feed and all, that counts the
// deny-list reads a verification makes.
type countedReads struct {
	*memory.Store
	reads atomic.Int64
}

func (c *countedReads) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	c.reads.Add(1)
	return c.Store.AccessTokenRevoked(ctx, jti)
}

// following starts e's server following its store's deny-list until the
// test ends, and waits for the first complete copy.
func following(t *testing.T, e *testEnv) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.FollowRevocations(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("FollowRevocations returned %v, want context.Canceled", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !e.srv.revocations.isComplete() {
		if time.Now().After(deadline) {
			t.Fatal("the deny-list copy never became complete")
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *revocations) isComplete() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.complete
}

// TestRevocationsInMemory: while the server follows its store's deny-list,
// verifying a token (RequireClaim's Verifier, /userinfo) reads no store,
// and a token revoked here, or by another server on the same store, is
// refused at the next request.
func TestRevocationsInMemory(t *testing.T) {
	st := &countedReads{Store: memory.New()}
	var cfg Config
	e := newTestEnvWith(t, func(c *Config) { c.Store = st; cfg = *c })
	// Before the feed runs, each verification asks the store.
	a := e.spaTokens()
	if got := e.userInfo(http.MethodGet, a.AccessToken, true, false, nil); got.status != http.StatusOK {
		t.Fatalf("/userinfo before following: %d", got.status)
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("one /userinfo without the feed made %d deny-list reads, want 1", n)
	}

	following(t, e)
	st.reads.Store(0)
	for range 5 {
		if got := e.userInfo(http.MethodGet, a.AccessToken, true, false, nil); got.status != http.StatusOK {
			t.Fatalf("/userinfo while following: %d", got.status)
		}
		if _, err := e.srv.Verifier().Verify(t.Context(), a.AccessToken); err != nil {
			t.Fatalf("Verify while following: %v", err)
		}
	}
	if n := st.reads.Load(); n != 0 {
		t.Fatalf("10 verifications while following made %d deny-list reads, want 0", n)
	}

	t.Run("revoked here", func(t *testing.T) {
		if code := e.revoke(url.Values{"token": {a.AccessToken}, "client_id": {"spa"}}, nil); code != http.StatusOK {
			t.Fatalf("/revoke: %d", code)
		}
		if got := e.userInfo(http.MethodGet, a.AccessToken, true, false, nil); got.status != http.StatusUnauthorized {
			t.Fatalf("/userinfo after /revoke: %d, want 401", got.status)
		}
		if _, err := e.srv.Verifier().Verify(t.Context(), a.AccessToken); err == nil {
			t.Fatal("Verify accepted a revoked token")
		}
	})

	t.Run("revoked by another server on the store", func(t *testing.T) {
		other, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b := e.spaTokens()
		claims, err := other.Verifier().Verify(t.Context(), b.AccessToken)
		if err != nil {
			t.Fatalf("the other server refuses a live token: %v", err)
		}
		exp, _ := expiry(claims)
		if err := other.revokeAccessToken(t.Context(), claims["jti"].(string), exp); err != nil {
			t.Fatal(err)
		}
		before := st.reads.Load() // the other server, not following, read the store
		if got := e.userInfo(http.MethodGet, b.AccessToken, true, false, nil); got.status != http.StatusUnauthorized {
			t.Fatalf("/userinfo of a token the other server revoked: %d, want 401", got.status)
		}
		if n := st.reads.Load() - before; n != 0 {
			t.Fatalf("the refusal made %d deny-list reads, want 0", n)
		}
	})

	t.Run("a lost feed falls back to the store", func(t *testing.T) {
		c := e.spaTokens()
		e.srv.revocations.Lost(errors.New("connection lost"))
		// A revocation the feed no longer hears of: written straight to the
		// store, as another replica would while this one's listener is down.
		claims, err := e.srv.Verifier().Verify(t.Context(), c.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		exp, _ := expiry(claims)
		before := st.reads.Load()
		if err := st.Store.RevokeAccessToken(t.Context(), claims["jti"].(string), exp); err != nil {
			t.Fatal(err)
		}
		e.srv.revocations.mu.Lock()
		delete(e.srv.revocations.jtis, claims["jti"].(string)) // the notice that never came
		e.srv.revocations.mu.Unlock()
		if got := e.userInfo(http.MethodGet, c.AccessToken, true, false, nil); got.status != http.StatusUnauthorized {
			t.Fatalf("/userinfo of a token revoked while the feed was lost: %d, want 401", got.status)
		}
		if n := st.reads.Load() - before; n != 1 {
			t.Fatalf("a verification while the feed was lost made %d deny-list reads, want 1", n)
		}
		if !strings.Contains(e.logs.String(), "the deny-list feed was lost") {
			t.Error("no warning that the feed was lost")
		}
	})
}

// TestRevokedTokenStaysRefusedThroughTheLeeway: the verifier accepts a
// token until exp plus DefaultLeeway, so a token revoked at /revoke must stay
// in the in-memory deny-list that long, even when a sweep runs after exp.
func TestRevokedTokenStaysRefusedThroughTheLeeway(t *testing.T) {
	e := newTestEnvWith(t, func(c *Config) { c.Store = memory.New() })
	following(t, e)
	a := e.spaTokens()
	if code := e.revoke(url.Values{"token": {a.AccessToken}, "client_id": {"spa"}}, nil); code != http.StatusOK {
		t.Fatalf("/revoke: %d", code)
	}
	// Past exp, within the leeway; a second revocation sweeps the set.
	e.clock.Advance(DefaultAccessTokenTTL + DefaultLeeway/2)
	b := e.spaTokens()
	if code := e.revoke(url.Values{"token": {b.AccessToken}, "client_id": {"spa"}}, nil); code != http.StatusOK {
		t.Fatalf("/revoke of the second token: %d", code)
	}
	if _, err := e.srv.Verifier().Verify(t.Context(), a.AccessToken); err == nil {
		t.Fatal("Verify accepted a revoked token within the leeway after its exp")
	}
}

// TestRevocationsLapse: an entry leaves the in-memory deny-list once its
// token has expired, so the set holds at most one token lifetime of
// revocations.
func TestRevocationsLapse(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRevocations(memory.New(), func() time.Time { return now }, slog.New(slog.DiscardHandler))
	r.Reset([]store.Revocation{{JTI: "old", ExpiresAt: now.Add(time.Minute)}, {JTI: "gone", ExpiresAt: now}})
	if ok, _ := r.revoked(t.Context(), "gone"); ok {
		t.Error("an entry that lapsed at the reset is still held")
	}
	if ok, _ := r.revoked(t.Context(), "old"); !ok {
		t.Fatal("a live entry is not held")
	}
	now = now.Add(revocationPruneEvery + time.Minute)
	r.Add(store.Revocation{JTI: "new", ExpiresAt: now.Add(time.Minute)})
	if len(r.jtis) != 1 {
		t.Fatalf("after a sweep the set holds %v, want only the new entry", r.jtis)
	}
	// Revoking again keeps the later expiry.
	r.Add(store.Revocation{JTI: "new", ExpiresAt: now})
	if got := r.jtis["new"]; !got.Equal(now.Add(time.Minute)) {
		t.Errorf("a second revocation cut the entry short: %v", got)
	}
}
