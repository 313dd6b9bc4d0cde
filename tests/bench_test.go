package tests

import (
	"log/slog"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/store"
)

// BenchmarkTokenExchange measures one whole sign-in over loopback HTTP:
// GET /authorize, POST /login, the 303, and POST /token through x/oauth2.
// ValidateUser does not hash and logs are discarded, so the figure is
// Keystile's own cost (plus net/http and the memory store).
func BenchmarkTokenExchange(b *testing.B) {
	for _, alg := range []string{"HS256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b, envOptions{alg: alg, loginUnlimited: true, configure: func(c *keystile.Config) {
				c.Logger = slog.New(slog.DiscardHandler)
			}})
			conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				fl := e.signIn(ctx, conf, "alice")
				if _, err := fl.exchange(ctx); err != nil {
					b.Fatalf("exchange: %v", err)
				}
			}
		})
	}
}

// BenchmarkStores runs a whole sign-in (HS256, a cheap user check) and a
// refresh rotation on each embedded store, for the SQLite-to-memory ratio
// docs/performance.md reports.
func BenchmarkStores(b *testing.B) {
	for _, st := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"memory", nil}, {"sqlite", openSQLite}} {
		e := newEnv(b, envOptions{store: st.open, loginUnlimited: true, configure: func(c *keystile.Config) {
			c.Logger = slog.New(slog.DiscardHandler)
		}})
		conf := e.oauthConfig("backend", oauth2.AuthStyleInHeader)
		b.Run("signin/"+st.name, func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.signIn(ctx, conf, "alice").exchange(ctx); err != nil {
					b.Fatalf("exchange: %v", err)
				}
			}
		})
		b.Run("refresh/"+st.name, func(b *testing.B) {
			ctx := b.Context()
			tok, err := e.signIn(ctx, conf, "alice").exchange(ctx)
			if err != nil {
				b.Fatalf("exchange: %v", err)
			}
			rt := tok.RefreshToken
			b.ReportAllocs()
			for b.Loop() {
				tok, err := refreshWith(ctx, conf, rt)
				if err != nil {
					b.Fatalf("refresh: %v", err)
				}
				rt = tok.RefreshToken
			}
		})
	}
}
