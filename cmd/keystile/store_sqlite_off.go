//go:build nosqlite

package main

import (
	"context"
	"log/slog"
)

// withSQLite: this build was made with -tags nosqlite (store_sqlite.go).
const withSQLite = false

func openSQLite(context.Context, string, *slog.Logger) (sharedStore, error) {
	return nil, storeLeftOut("SQLite", "nosqlite")
}

func sqliteFile(path string) string { return path }
