//go:build !nopostgres

package main

import (
	"context"

	"github.com/keystile/keystile/store/postgres"
)

// withPostgres: this build has the PostgreSQL store. Build with -tags
// nopostgres to leave it out (store_postgres_off.go): pgx is about 6 MB of
// the binary (docs/performance.md).
const withPostgres = true

func openPostgres(ctx context.Context, url string) (sharedStore, error) {
	return postgres.Open(ctx, url)
}
