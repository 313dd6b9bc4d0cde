//go:build nopostgres

package main

import "context"

// withPostgres: this build was made with -tags nopostgres (store_postgres.go).
const withPostgres = false

func openPostgres(context.Context, string) (sharedStore, error) {
	return nil, storeLeftOut("PostgreSQL", "nopostgres")
}
