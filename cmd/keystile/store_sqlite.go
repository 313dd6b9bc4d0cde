//go:build !nosqlite

package main

import (
	"context"
	"log/slog"

	"github.com/keystile/keystile/store/sqlite"
)

// withSQLite: this build has the SQLite store. Build with -tags nosqlite
// to leave it out (store_sqlite_off.go): modernc.org/sqlite is about 6 MB of
// the binary (docs/performance.md).
const withSQLite = true

func openSQLite(ctx context.Context, path string, log *slog.Logger) (sharedStore, error) {
	return sqlite.Open(ctx, path, sqlite.WithLogger(log))
}

// sqliteFile is the database file a sqlite: store's path names (the path
// without the driver's options after "?").
func sqliteFile(path string) string { return sqlite.FileName(path) }
