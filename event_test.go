package keystile

import (
	"slices"
	"sync"
	"testing"
)

// TestOnEvent: each /token answer with tokens is one EventTokenIssued with
// its grant type and the access token's algorithm; a replayed refresh token
// is one EventCredentialReused.
func TestOnEvent(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	e := newTestEnvWith(t, func(c *Config) {
		c.OnEvent = func(ev Event) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ev)
		}
	})
	a := e.spaTokens()
	if r := e.token(refreshForm(a.RefreshToken), nil); r.status != 200 {
		t.Fatalf("refresh: %+v", r)
	}
	if r := e.token(refreshForm(a.RefreshToken), nil); r.status == 200 {
		t.Fatalf("a replayed refresh token was accepted")
	}
	alg := e.srv.signer().alg
	want := []Event{
		{Kind: EventTokenIssued, GrantType: GrantAuthorizationCode, Algorithm: alg},
		{Kind: EventTokenIssued, GrantType: GrantRefreshToken, Algorithm: alg},
		{Kind: EventCredentialReused, GrantType: GrantRefreshToken},
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("events %+v, want %+v", got, want)
	}
}
