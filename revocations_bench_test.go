package keystile

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keystile/keystile/password"
	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/memory"
	"github.com/keystile/keystile/store/postgres"
	"github.com/keystile/keystile/store/postgres/postgrestest"
	"github.com/keystile/keystile/store/sqlite"
)

// readCounter counts a store's deny-list reads, and passes its feed on
// when it has one.
type readCounter struct {
	store.Store
	reads atomic.Int64
}

func (c *readCounter) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	c.reads.Add(1)
	return c.Store.AccessTokenRevoked(ctx, jti)
}

func (c *readCounter) FollowRevocations(ctx context.Context, sink store.RevocationSink) error {
	return c.Store.(store.RevocationFeed).FollowRevocations(ctx, sink)
}

// BenchmarkVerifyDenyList is the in-process verification of an HS256
// access token (what RequireClaim and /userinfo do first) on each store:
// "store" reads the deny-list per token, as every server did before the
// feed and as one on SQLite still does; "memory" follows the store's feed
// (SQLite has none). deny-list-reads/op counts the store calls.
func BenchmarkVerifyDenyList(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"memory", func(*testing.B) store.Store { return memory.New() }},
		{"sqlite", func(b *testing.B) store.Store {
			st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "keystile.db"))
			if err != nil {
				b.Fatal(err)
			}
			return st
		}},
		{"postgres", func(b *testing.B) store.Store {
			st, err := postgres.Open(b.Context(), postgrestest.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			return st
		}},
	}
	for _, be := range backends {
		for _, follow := range []bool{false, true} {
			mode := "store"
			if follow {
				mode = "memory"
			}
			b.Run(be.name+"/"+mode, func(b *testing.B) {
				st := be.open(b)
				if _, ok := st.(store.RevocationFeed); follow && !ok {
					st.Close()
					b.Skip("no RevocationFeed: a server on this store reads the deny-list per token")
				}
				b.Cleanup(func() { st.Close() })
				counted := &readCounter{Store: st}
				srv, token := benchServer(b, counted)
				if follow {
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan struct{})
					go func() { srv.FollowRevocations(ctx); close(done) }()
					b.Cleanup(func() { cancel(); <-done })
					for !srv.revocations.isComplete() {
						time.Sleep(time.Millisecond)
					}
				}
				v := srv.Verifier()
				counted.reads.Store(0)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(b.Context(), token); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(counted.reads.Load())/float64(b.N), "deny-list-reads/op")
			})
		}
	}
}

// benchServer is a server on st and a client-credentials access token it
// issued.
func benchServer(b *testing.B, st store.Store) (*Server, string) {
	key, err := NewSigningKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{
		Issuer:       "https://auth.example.com",
		Clients:      []Client{{ID: "svc", SecretHash: password.HashClientSecret(testClientSecret), GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"reports:read"}}},
		Store:        st,
		Keys:         []SigningKey{key},
		ValidateUser: func(context.Context, string, string) (Identity, error) { return Identity{}, ErrInvalidCredentials },
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials&scope=reports%3Aread"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("svc", testClientSecret)
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || answer.AccessToken == "" {
		b.Fatalf("/token: %d %s", w.Code, w.Body)
	}
	return srv, answer.AccessToken
}
