package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/sqlite"
	"github.com/keystile/keystile/store/storetest"
)

func openFile(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open(%q): %v", path, err)
	}
	return s
}

// noToken is a redemption's issue that accepts the code and issues no
// refresh token: the tests here only need the code marked used.
func noToken(store.AuthCode) (*store.RefreshToken, error) { return nil, nil }

func TestConformance(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			return openFile(t, filepath.Join(t.TempDir(), "keystile.db"))
		})
	})
	t.Run("memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openFile(t, ":memory:") })
	})
}

var (
	t0  = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	exp = t0.Add(time.Minute)
)

func refresh(name string) store.RefreshToken {
	return store.RefreshToken{
		Hash:            []byte("refresh " + name),
		FamilyID:        "family " + name,
		ClientID:        "spa",
		Subject:         "alice",
		Scope:           []string{"openid", "offline_access"},
		IssuedAt:        t0,
		ExpiresAt:       exp,
		FamilyExpiresAt: exp.Add(time.Hour),
	}
}

// Two Stores on one file stand for two Keystile processes sharing it, or
// one restarted; no loser of a race may see SQLITE_BUSY.
func TestTwoStoresOneFile(t *testing.T) {
	newFile := func(t *testing.T) string { return filepath.Join(t.TempDir(), "keystile.db") }
	storetest.RunShared(t, newFile, func(t *testing.T, path string) store.Store { return openFile(t, path) })
}

// A database created before sessions and refresh tokens existed, with
// records in it, upgrades in place at Open: its code still works, and so do
// the new tables. Its pending request is dropped with the table that held it
// (migration 00003: pending requests travel sealed in the login form now).
// Down then Up again must work too, so that an operator can roll back a
// release.
func TestUpgradeFrom00001(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keystile.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer db.Close()
	v1, err := os.ReadFile(filepath.Join("migrations", "00001_auth_requests_and_codes.sql"))
	if err != nil {
		t.Fatalf("read migration 00001: %v", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db,
		fstest.MapFS{"00001_auth_requests_and_codes.sql": {Data: v1}},
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatalf("goose.NewProvider: %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("migrate to 00001: %v", err)
	}
	for _, q := range []string{
		`INSERT INTO auth_requests VALUES (x'01', NULL, NULL, 'spa', 'https://app/cb', 'xyz', 'ch', 'n', '["openid"]', ` + fmt.Sprint(exp.UnixMilli()) + `)`,
		`INSERT INTO auth_codes VALUES (x'02', 'spa', 'https://app/cb', 'ch', 'alice', '{"role":"admin"}', '["openid"]', 'n', ` +
			fmt.Sprint(t0.UnixMilli()) + `, ` + fmt.Sprint(exp.UnixMilli()) + `)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	s := openFile(t, path)
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'auth_requests'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("auth_requests after upgrade: %d tables, %v; want it dropped", tables, err)
	}
	signIn := func(code byte) error {
		return s.CompleteSignIn(ctx, store.SignIn{RequestIDHash: []byte{1}, RequestExpiresAt: exp,
			Code: store.AuthCode{Hash: []byte{code}, ExpiresAt: exp}}, t0)
	}
	if err := signIn(0xa); err != nil {
		t.Errorf("CompleteSignIn after upgrade: %v", err)
	}
	if err := signIn(0xb); !errors.Is(err, store.ErrReused) {
		t.Errorf("second CompleteSignIn of the request after upgrade: err = %v, want ErrReused", err)
	}
	c, err := s.RedeemCode(ctx, []byte{2}, t0, noToken)
	if err != nil {
		t.Fatalf("RedeemCode after upgrade: %v", err)
	}
	if c.Subject != "alice" || c.Claims["role"] != "admin" || c.FamilyID != "" || len(c.SessionIDHash) != 0 {
		t.Errorf("code after upgrade = %+v", c)
	}
	if _, err := s.RedeemCode(ctx, []byte{2}, t0, noToken); !errors.Is(err, store.ErrReused) {
		t.Errorf("second RedeemCode after upgrade: err = %v, want ErrReused", err)
	}
	r := refresh("upgrade")
	if err := s.CreateRefreshToken(ctx, r); err != nil {
		t.Fatalf("CreateRefreshToken after upgrade: %v", err)
	}
	if err := s.CreateSession(ctx, store.Session{IDHash: []byte("s"), ExpiresAt: exp}); err != nil {
		t.Fatalf("CreateSession after upgrade: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	all, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatalf("goose.NewProvider: %v", err)
	}
	if _, err := all.DownTo(ctx, 1); err != nil {
		t.Fatalf("migrate down to 00001: %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO auth_codes VALUES (x'03', '', '', '', '', 'null', 'null', '', 0, `+
		fmt.Sprint(exp.UnixMilli())+`)`); err != nil {
		t.Fatalf("insert a code in the 00001 schema: %v", err)
	}
	s = openFile(t, path)
	defer s.Close()
	if _, err := s.RedeemCode(ctx, []byte{3}, t0, noToken); err != nil {
		t.Errorf("RedeemCode after down and up: %v", err)
	}
	if _, err := s.RedeemCode(ctx, []byte{2}, t0, noToken); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("code used before the downgrade: err = %v, want ErrNotFound (dropped by Down)", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string
	}{
		{"empty path", ""},
		{"missing directory", filepath.Join(t.TempDir(), "no", "such", "dir", "keystile.db")},
		{"a directory", t.TempDir()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tc.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): err = nil, want an error", tc.path)
			}
		})
	}
}

// TestUseAfterClose: the store holds its connection, so a call after Close
// must fail with an error rather than wait for a connection that will not
// come back (the deadline only keeps a regression from hanging the suite).
func TestUseAfterClose(t *testing.T) {
	s := openFile(t, filepath.Join(t.TempDir(), "keystile.db"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	now := time.Now()
	for _, tc := range []struct {
		op  string
		err error
	}{
		{"CompleteSignIn", s.CompleteSignIn(ctx, store.SignIn{RequestIDHash: []byte("id"), RequestExpiresAt: now.Add(time.Minute),
			Code: store.AuthCode{Hash: []byte("code"), ExpiresAt: now.Add(time.Minute)}}, now)},
		{"GetSession", func() error { _, err := s.GetSession(ctx, []byte("id"), now); return err }()},
		{"EndSession", s.EndSession(ctx, []byte("id"), true)},
		{"Ping", s.Ping(ctx)},
	} {
		if tc.err == nil || errors.Is(tc.err, context.DeadlineExceeded) {
			t.Errorf("%s after Close: err = %v, want the closed database's error", tc.op, tc.err)
		}
	}
}

func BenchmarkCreateConsumeCode(b *testing.B) {
	for _, bc := range []struct {
		name string
		path func(b *testing.B) string
	}{
		{"file", func(b *testing.B) string { return filepath.Join(b.TempDir(), "keystile.db") }},
		{"memory", func(*testing.B) string { return ":memory:" }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openFile(b, bc.path(b))
			defer s.Close()
			storetest.BenchCreateConsumeCode(b, s)
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			s := openFile(b, bc.path(b))
			defer s.Close()
			storetest.BenchCreateConsumeCodeParallel(b, s)
		})
	}
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	for _, bc := range []struct {
		name string
		path func(b *testing.B) string
	}{
		{"file", func(b *testing.B) string { return filepath.Join(b.TempDir(), "keystile.db") }},
		{"memory", func(*testing.B) string { return ":memory:" }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openFile(b, bc.path(b))
			defer s.Close()
			storetest.BenchRotateRefreshToken(b, s)
		})
	}
}

func BenchmarkSignIn(b *testing.B) {
	for _, separate := range []bool{true, false} {
		b.Run(map[bool]string{true: "separate", false: "one-step"}[separate], func(b *testing.B) {
			s := openFile(b, filepath.Join(b.TempDir(), "keystile.db"))
			defer s.Close()
			storetest.BenchSignIn(b, s, separate)
		})
	}
}

func BenchmarkExchange(b *testing.B) {
	for _, separate := range []bool{true, false} {
		b.Run(map[bool]string{true: "separate", false: "one-step"}[separate], func(b *testing.B) {
			s := openFile(b, filepath.Join(b.TempDir(), "keystile.db"))
			defer s.Close()
			storetest.BenchExchange(b, s, separate)
		})
	}
}

func BenchmarkRecordFailure(b *testing.B) {
	s := openFile(b, filepath.Join(b.TempDir(), "keystile.db"))
	defer s.Close()
	storetest.BenchRecordFailure(b, s)
}
