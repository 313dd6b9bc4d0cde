package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkChangeCheck compares the deny-list read a verification makes on
// SQLite (AccessTokenRevoked) with the cheapest question that could let a
// process keep the deny-list in memory instead: PRAGMA data_version, which
// changes when another connection has committed, asked on a read
// connection of its own. It decided that the in-memory copy is not built
// on SQLite (docs/design.md, "Revocations in memory"): both start a WAL
// read transaction, which is most of what they cost.
func BenchmarkChangeCheck(b *testing.B) {
	path := filepath.Join(b.TempDir(), "keystile.db")
	s := openFile(b, path)
	b.Cleanup(func() { s.Close() })
	if err := s.RevokeAccessToken(b.Context(), "revoked", time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.Run("AccessTokenRevoked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if revoked, err := s.AccessTokenRevoked(b.Context(), "not revoked"); err != nil || revoked {
				b.Fatal(revoked, err)
			}
		}
	})
	b.Run("data_version", func(b *testing.B) {
		db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		conn, err := db.Conn(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		check, err := conn.PrepareContext(b.Context(), "PRAGMA data_version")
		if err != nil {
			b.Fatal(err)
		}
		defer check.Close()
		var first, v int64
		if err := check.QueryRowContext(b.Context()).Scan(&first); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := check.QueryRowContext(b.Context()).Scan(&v); err != nil || v != first {
				b.Fatal(v, err)
			}
		}
	})
}
