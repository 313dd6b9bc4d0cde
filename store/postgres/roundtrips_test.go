package postgres

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/postgres/postgrestest"
)

// roundTrips counts the times a connection waited for the server: a read
// that follows a write is one round trip, however many statements the
// write carried (a pipeline is one).
type roundTrips struct {
	net.Conn
	n       *atomic.Int64
	written bool
}

func (c *roundTrips) Write(b []byte) (int, error) {
	c.written = true
	return c.Conn.Write(b)
}

func (c *roundTrips) Read(b []byte) (int, error) {
	if c.written {
		c.written = false
		c.n.Add(1)
	}
	return c.Conn.Read(b)
}

// openCounted opens a store on one connection whose round trips n counts.
func openCounted(t *testing.T) (*Store, *atomic.Int64) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(postgrestest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	n := new(atomic.Int64)
	var d net.Dialer
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &roundTrips{Conn: c, n: n}, nil
	}
	s, err := openConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, n
}

// A code exchange's round trips to PostgreSQL are what a token request
// waits for; counted, not timed. Each step runs once first, so that the
// connection has prepared its statements (once per connection).
func TestCodeExchangeRoundTrips(t *testing.T) {
	ctx := t.Context()
	s, n := openCounted(t)
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var codes int
	newCode := func(family string) store.AuthCode {
		codes++
		c := store.AuthCode{Hash: []byte{byte(codes)}, ClientID: "spa", Scope: []string{"openid"},
			AuthTime: t0, ExpiresAt: t0.Add(time.Minute), FamilyID: family}
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		return c
	}
	token := func(c store.AuthCode) (*store.RefreshToken, error) {
		return &store.RefreshToken{Hash: append([]byte("token "), c.Hash...), FamilyID: c.FamilyID, ClientID: c.ClientID,
			IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), FamilyExpiresAt: t0.Add(time.Hour)}, nil
	}
	none := func(store.AuthCode) (*store.RefreshToken, error) { return nil, nil }
	refuse := func(store.AuthCode) (*store.RefreshToken, error) { return nil, errRefused }
	for _, tc := range []struct {
		name   string
		family string
		issue  func(store.AuthCode) (*store.RefreshToken, error)
		want   int64
	}{
		// BEGIN with the consuming UPDATE in one pipeline, then the
		// token's INSERT with the COMMIT in another (or the COMMIT alone).
		{"a code that starts no family, no token", "", none, 2},
		{"a code that starts no family, refused", "", refuse, 2},
		{"a code that starts a family, with its token", "f", token, 2},
		{"a code that starts a family, no token", "f", none, 2},
		{"a code that starts a family, refused", "f", refuse, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 2 {
				family := ""
				if tc.family != "" {
					family = fmt.Sprint(tc.family, codes)
				}
				c := newCode(family)
				before := n.Load()
				_, err := s.RedeemCode(ctx, c.Hash, t0, tc.issue)
				if err != nil && err != errRefused { //nolint:errorlint // issue's error as it is
					t.Fatalf("RedeemCode: %v", err)
				}
				if got := n.Load() - before; i == 1 && got != tc.want {
					t.Errorf("%d round trips, want %d", got, tc.want)
				}
			}
		})
	}
}

var errRefused = errorString("refused")

type errorString string

func (e errorString) Error() string { return string(e) }
