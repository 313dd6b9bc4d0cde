package postgres_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/postgres/postgrestest"
)

// sink records what a follower is told.
type sink struct {
	mu     sync.Mutex
	resets int
	lost   int
	jtis   map[string]bool
}

func (s *sink) Reset(live []store.Revocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resets++
	s.jtis = map[string]bool{}
	for _, r := range live {
		s.jtis[r.JTI] = true
	}
}

func (s *sink) Add(r store.Revocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jtis[r.JTI] = true
}

func (s *sink) Lost(error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost++
}

// until waits, a bounded time, for cond to hold of the sink.
func (s *sink) until(t *testing.T, what string, cond func(*sink) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		ok := cond(s)
		s.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, still not: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRevocationListenerReconnects: when the listener's connection is killed
// (pg_terminate_backend, as a failover or an operator would), the follower
// is told at once that it may miss revocations, reconnects, and then holds
// a revocation made by another store while it was away.
func TestRevocationListenerReconnects(t *testing.T) {
	url := postgrestest.URL(t)
	follower, revoker := open(t, url), open(t, url)
	t.Cleanup(func() { follower.Close(); revoker.Close() })
	s := &sink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- follower.FollowRevocations(ctx, s) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("FollowRevocations returned %v, want context.Canceled", err)
		}
	})
	s.until(t, "the first reset", func(s *sink) bool { return s.resets == 1 })

	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	// Only this schema's listener: other tests' run on the same server.
	var killed int
	err = admin.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'keystile revocations ' || 'revoked_access_tokens'::regclass::oid`).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listeners (%v), want 1", killed, err)
	}
	s.until(t, "told that the feed was lost", func(s *sink) bool { return s.lost == 1 })
	exp := time.Now().Add(time.Hour)
	if err := revoker.RevokeAccessToken(t.Context(), "jti while away", exp); err != nil {
		t.Fatal(err)
	}
	s.until(t, "a second reset holding the revocation made while away", func(s *sink) bool {
		return s.resets >= 2 && s.jtis["jti while away"]
	})
	// And it listens again: a later revocation arrives as a notice.
	if err := revoker.RevokeAccessToken(t.Context(), "jti after", exp); err != nil {
		t.Fatal(err)
	}
	s.until(t, "the revocation after the reconnect", func(s *sink) bool { return s.jtis["jti after"] })
}

// TestOpenAppliesTheLatestMigration: Open skips goose only when every
// embedded migration is applied; a schema migrations behind (here from the
// revocation trigger, 00010, on) is brought up to date.
func TestOpenAppliesTheLatestMigration(t *testing.T) {
	ctx := t.Context()
	url := postgrestest.URL(t)
	open(t, url).Close()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"),
		goose.WithDisableGlobalRegistry(true), goose.WithTableName("keystile_goose_db_version"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 9); err != nil {
		t.Fatalf("migrate down to 9: %v", err)
	}
	trigger := func() bool {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_trigger WHERE tgname = 'revoked_access_tokens_notify'
			AND tgrelid = 'revoked_access_tokens'::regclass`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if trigger() {
		t.Fatal("the trigger is still there after migrating down to 9")
	}
	open(t, url).Close()
	if !trigger() {
		t.Fatal("Open did not apply the missing latest migration")
	}
}
