package keystile

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// brokenRevocations is a real store whose deny-list fails on demand, as a
// database that went away would.
type brokenRevocations struct {
	store.Store
	broken atomic.Bool
}

var errStoreDown = errors.New("store is down")

func (b *brokenRevocations) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	if b.broken.Load() {
		return false, errStoreDown
	}
	return b.Store.AccessTokenRevoked(ctx, jti)
}

func (b *brokenRevocations) RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error {
	if b.broken.Load() {
		return errStoreDown
	}
	return b.Store.RevokeAccessToken(ctx, jti, exp)
}

// TestRevocationFailsClosed: when the deny-list cannot be read, /revoke
// must not answer 200 (the token would stay valid) and /introspect must not
// answer active (docs/security.md §12).
func TestRevocationFailsClosed(t *testing.T) {
	var st *brokenRevocations
	e := newTestEnvWith(t, func(c *Config) {
		st = &brokenRevocations{Store: c.Store}
		c.Store = st
	})
	a := e.spaTokens()
	st.broken.Store(true)
	if code := e.revoke(url.Values{"token": {a.AccessToken}, "client_id": {"spa"}}, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("/revoke during a store failure answered %d, want 503", code)
	}
	code, m := e.introspect(a.AccessToken, basicAuth("backend", testClientSecret))
	if code != http.StatusServiceUnavailable || m["active"] == true {
		t.Fatalf("/introspect during a store failure answered %d %v, want 503", code, m)
	}
	if _, err := e.srv.Verifier().Verify(t.Context(), a.AccessToken); err == nil {
		t.Fatal("the in-process verifier accepted a token it could not check against the deny-list")
	}
	st.broken.Store(false)
	if code := e.revoke(url.Values{"token": {a.AccessToken}, "client_id": {"spa"}}, nil); code != http.StatusOK {
		t.Fatalf("/revoke after recovery answered %d", code)
	}
	if _, err := e.srv.Verifier().Verify(t.Context(), a.AccessToken); err == nil {
		t.Fatal("the token still verifies after it was revoked")
	}
}
