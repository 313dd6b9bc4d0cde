package tests

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/store"
)

// countingStore counts the store calls a protocol step makes, so that the
// cost of a sign-in on a database is a number a test can hold down, not a
// timing. Calls it does not override pass through uncounted.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	calls map[string]int
	// codeFamilies are the FamilyIDs of the codes sign-ins stored.
	codeFamilies []string
}

func (c *countingStore) count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[name]++
}

// take returns the calls since the last take, as "Name×n" sorted by name.
func (c *countingStore) take() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(c.calls)) {
		parts = append(parts, fmt.Sprintf("%s×%d", name, c.calls[name]))
	}
	clear(c.calls)
	return strings.Join(parts, " ")
}

func (c *countingStore) CreateCode(ctx context.Context, a store.AuthCode) error {
	c.count("CreateCode")
	return c.Store.CreateCode(ctx, a)
}

func (c *countingStore) RedeemCode(ctx context.Context, h []byte, now time.Time, issue func(store.AuthCode) (*store.RefreshToken, error)) (store.AuthCode, error) {
	c.count("RedeemCode")
	return c.Store.RedeemCode(ctx, h, now, issue)
}

func (c *countingStore) CreateSession(ctx context.Context, s store.Session) error {
	c.count("CreateSession")
	return c.Store.CreateSession(ctx, s)
}

func (c *countingStore) GetSession(ctx context.Context, h []byte, now time.Time) (store.Session, error) {
	c.count("GetSession")
	return c.Store.GetSession(ctx, h, now)
}

func (c *countingStore) CompleteSignIn(ctx context.Context, in store.SignIn, now time.Time) error {
	c.count("CompleteSignIn")
	c.mu.Lock()
	c.codeFamilies = append(c.codeFamilies, in.Code.FamilyID)
	c.mu.Unlock()
	return c.Store.CompleteSignIn(ctx, in, now)
}

func (c *countingStore) RenewSession(ctx context.Context, old []byte, next store.Session, now time.Time) error {
	c.count("RenewSession")
	return c.Store.RenewSession(ctx, old, next, now)
}

func (c *countingStore) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	c.count("CreateRefreshToken")
	return c.Store.CreateRefreshToken(ctx, t)
}

func (c *countingStore) GetRefreshToken(ctx context.Context, h []byte, now time.Time) (store.RefreshToken, error) {
	c.count("GetRefreshToken")
	return c.Store.GetRefreshToken(ctx, h, now)
}

func (c *countingStore) RotateRefreshToken(ctx context.Context, old []byte, next store.RefreshToken, now time.Time) error {
	c.count("RotateRefreshToken")
	return c.Store.RotateRefreshToken(ctx, old, next, now)
}

func (c *countingStore) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	c.count("AccessTokenRevoked")
	return c.Store.AccessTokenRevoked(ctx, jti)
}

// TestStoreCallsPerStep: what each protocol step asks of the store, the
// figure docs/performance.md builds the SQLite cost from.
func TestStoreCallsPerStep(t *testing.T) {
	cs := &countingStore{calls: map[string]int{}}
	e := newEnv(t, envOptions{store: func(t testing.TB) store.Store { cs.Store = openSQLite(t); return cs }, loginUnlimited: true})
	ctx := t.Context()
	conf := e.oauthConfig("backend", oauth2.AuthStyleInHeader)
	cs.take() // start-up
	b := newBrowserFor(t, e.issuer, nil)
	fl := signInAt(ctx, t, b, e.issuer, conf, "alice", e.users["alice"].password)
	signIn := cs.take()
	tok, err := fl.exchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exchange := cs.take()
	if _, err := refreshWith(ctx, conf, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	refresh := cs.take()
	for _, step := range []struct{ name, got, want string }{
		{"sign-in", signIn, "CompleteSignIn×1"},
		{"code exchange", exchange, "GetSession×1 RedeemCode×1"},
		{"refresh", refresh, "GetRefreshToken×1 RotateRefreshToken×1"},
	} {
		t.Logf("%s: %s", step.name, step.got)
		if step.got != step.want {
			t.Errorf("%s made store calls %s, want %s", step.name, step.got, step.want)
		}
	}
}

// TestCodeWithoutRefreshTokenNamesNoFamily: a code whose exchange comes
// with no refresh token names no family (there is none to revoke); the
// exchange and a replay work as ever.
func TestCodeWithoutRefreshTokenNamesNoFamily(t *testing.T) {
	for _, refresh := range []bool{true, false} {
		t.Run(map[bool]string{true: "with refresh tokens", false: "without"}[refresh], func(t *testing.T) {
			cs := &countingStore{calls: map[string]int{}}
			e := newEnv(t, envOptions{store: func(t testing.TB) store.Store { cs.Store = openSQLite(t); return cs }, configure: func(cfg *keystile.Config) {
				for i, c := range cfg.Clients {
					if c.ID == "backend" && !refresh {
						cfg.Clients[i].GrantTypes = []string{keystile.GrantAuthorizationCode}
					}
				}
			}})
			ctx := t.Context()
			conf := e.oauthConfig("backend", oauth2.AuthStyleInHeader)
			b := newBrowserFor(t, e.issuer, nil)
			fl := signInAt(ctx, t, b, e.issuer, conf, "alice", e.users["alice"].password)
			tok, err := fl.exchange(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.RefreshToken != ""; got != refresh {
				t.Fatalf("a refresh token issued: %v, want %v", got, refresh)
			}
			if len(cs.codeFamilies) != 1 || (cs.codeFamilies[0] != "") == !refresh {
				t.Errorf("the code's FamilyIDs: %q, want one, empty only without refresh tokens", cs.codeFamilies)
			}
			if _, err := fl.exchange(ctx); err == nil {
				t.Error("the code's replay was accepted")
			}
		})
	}
}
