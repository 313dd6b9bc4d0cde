package postgres

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keystile/keystile/store/postgres/postgrestest"
)

// TestCheckRefusesABrokenStatement: Open's one-round-trip check names a
// statement the server cannot prepare, wherever it is in the list, and
// leaves the connection usable.
func TestCheckRefusesABrokenStatement(t *testing.T) {
	ctx := t.Context()
	url := postgrestest.URL(t)
	open, err := Open(ctx, url) // creates the schema
	if err != nil {
		t.Fatal(err)
	}
	open.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := check(ctx, conn, statements()); err != nil {
		t.Fatalf("check of the real statements: %v", err)
	}
	broken := append(append([]string{}, statements()[:3]...), "SELECT jti FROM revoked_access_tokenz")
	broken = append(broken, statements()[3:]...)
	err = check(ctx, conn, broken)
	if err == nil || !strings.Contains(err.Error(), "revoked_access_tokenz") {
		t.Fatalf("check of a list with a broken statement: %v, want an error naming it", err)
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the connection after a failed check: %v", err)
	}
}
