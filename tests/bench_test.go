package tests

import (
	"log/slog"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
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
