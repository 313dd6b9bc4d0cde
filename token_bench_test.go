package keystile

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keystile/keystile/password"
	"github.com/keystile/keystile/store/memory"
)

// BenchmarkClientCredentialsHS256 is the per-request cost of the cheapest
// /token request, without the network: what docs/performance.md's allocs/op
// figure for /token is taken from.
func BenchmarkClientCredentialsHS256(b *testing.B) {
	key, err := NewSigningKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{
		Issuer:       "https://auth.example.com",
		Clients:      []Client{{ID: "svc", SecretHash: password.HashClientSecret(testClientSecret), GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"reports:read"}}},
		Store:        memory.New(),
		Keys:         []SigningKey{key},
		ValidateUser: func(context.Context, string, string) (Identity, error) { return Identity{}, ErrInvalidCredentials },
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	const body = "grant_type=client_credentials&scope=reports%3Aread"
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("svc", testClientSecret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
