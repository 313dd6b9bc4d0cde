package keystile

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
)

// TestIntrospectRechecksTheUser: /introspect asks LookupUser about the user
// of a token, as a refresh, single sign-on and /userinfo do, so that a
// disabled user's tokens are not "active": true to a resource server that
// introspects (issue 8, item 8). A client-credentials token has no user and
// stays active; a LookupUser failure answers 503, never a stale "active".
func TestIntrospectRechecksTheUser(t *testing.T) {
	var disabled, failing atomic.Bool
	e := newTestEnvWith(t, func(c *Config) {
		c.LookupUser = func(_ context.Context, subject string) (Identity, error) {
			switch {
			case failing.Load():
				return Identity{}, errors.New("the directory is down")
			case subject != "alice" || disabled.Load():
				return Identity{}, ErrUnknownUser
			}
			return Identity{Subject: "alice", Claims: map[string]any{"role": "admin"}}, nil
		}
	})
	backend := basicAuth("backend", testClientSecret)

	// A user's access token, and a refresh token the asking client holds.
	access := e.spaTokens().AccessToken
	q := authorizeQuery()
	q.Set("client_id", "backend")
	q.Set("redirect_uri", backendRedirect)
	q.Del("scope")
	form := exchangeForm(e.login(e.browser(), q).Query().Get("code"))
	form.Del("client_id")
	form.Set("redirect_uri", backendRedirect)
	be := e.token(form, backend)
	if be.status != http.StatusOK || be.RefreshToken == "" {
		t.Fatalf("backend exchange: %+v", be)
	}
	service := e.token(url.Values{"grant_type": {"client_credentials"}}, basicAuth("svc", testClientSecret))
	if service.status != http.StatusOK {
		t.Fatalf("client credentials: %+v", service)
	}

	tokens := map[string]string{"access token": access, "refresh token": be.RefreshToken}
	for name, tok := range tokens {
		if status, got := e.introspect(tok, backend); status != http.StatusOK || got["active"] != true {
			t.Fatalf("%s of an enabled user: status %d %v, want active", name, status, got)
		}
	}

	disabled.Store(true)
	for name, tok := range tokens {
		if status, got := e.introspect(tok, backend); status != http.StatusOK || got["active"] != false || len(got) != 1 {
			t.Errorf("%s of a disabled user: status %d %v, want {\"active\": false}", name, status, got)
		}
	}
	if status, got := e.introspect(service.AccessToken, backend); status != http.StatusOK || got["active"] != true {
		t.Errorf("client-credentials token: status %d %v, want active (no user to check)", status, got)
	}

	disabled.Store(false)
	failing.Store(true)
	for name, tok := range tokens {
		if status, got := e.introspect(tok, backend); status != http.StatusServiceUnavailable || got["active"] != nil {
			t.Errorf("%s while LookupUser fails: status %d %v, want 503 and no answer", name, status, got)
		}
	}
}
