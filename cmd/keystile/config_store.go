package main

import (
	"errors"
	"fmt"
	"strings"
)

// The store setting: which backend, and where.

// storeSpec is a parsed store setting.
type storeSpec struct {
	Kind string // "sqlite", "postgres" or "memory"
	Path string // sqlite: the database file
	// URL is postgres's connection URL. It may hold a password: never
	// print or log it.
	URL string
}

// parseStoreSpec reads "sqlite:PATH", "postgres://…" or "memory:", which
// may also be written "memory": unquoted in YAML, `store: memory:` is a
// syntax error, and the colon adds nothing. The error never repeats the
// value, which for a database URL may hold a password.
func parseStoreSpec(raw string) (storeSpec, error) {
	if raw == "memory" {
		return storeSpec{Kind: "memory"}, nil
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return storeSpec{}, errors.New(`must be sqlite:PATH, postgres://… or memory`)
	}
	switch scheme {
	case "sqlite":
		if !withSQLite {
			return storeSpec{}, storeLeftOut("SQLite", "nosqlite")
		}
		if rest == "" {
			return storeSpec{}, errors.New(`sqlite: needs a file, e.g. sqlite:keystile.db`)
		}
		return storeSpec{Kind: "sqlite", Path: rest}, nil
	case "memory":
		if rest != "" {
			return storeSpec{}, errors.New(`memory: takes nothing after the colon`)
		}
		return storeSpec{Kind: "memory"}, nil
	case "postgres", "postgresql":
		if !withPostgres {
			return storeSpec{}, storeLeftOut("PostgreSQL", "nopostgres")
		}
		// The URL is checked when the store opens it, whose errors leave
		// it out.
		return storeSpec{Kind: "postgres", URL: raw}, nil
	default:
		return storeSpec{}, fmt.Errorf("unknown store scheme %q (use sqlite:PATH, postgres://… or memory)", truncate(scheme, 20))
	}
}

// storeLeftOut is the error for a store that a build tag left out of this
// binary (store_sqlite.go, store_postgres.go).
func storeLeftOut(name, tag string) error {
	return fmt.Errorf("this keystile was built with -tags %s, without the %s store: use a build without that tag, or another store", tag, name)
}
