// Package postgrestest gives tests a fresh, empty PostgreSQL schema to run a
// Keystile store in. It lives apart from package postgres so that the store
// does not import testing.
//
// The server comes from the environment variable KEYSTILE_TEST_POSTGRES, a
// libpq connection string (default [DefaultURL]); its user must be allowed to
// create schemas. When the server cannot be reached, a test is skipped on a
// developer's machine, but fails when CI=true: CI starts PostgreSQL itself
// (.ci/run), so a missing server there is a broken build, not a reason to
// quietly test less.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable that names the test server.
const EnvURL = "KEYSTILE_TEST_POSTGRES"

// DefaultURL is the test server when EnvURL is unset: a local PostgreSQL
// with trust authentication, as on the development and CI machines.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// timeout bounds each administrative step, so that a hung server fails the
// test instead of stalling it until the go test timeout.
const timeout = 30 * time.Second

// URL creates a new, empty schema in the test server and returns a URL
// whose connections use it (search_path), so that each test has a database
// of its own to migrate and fill, tests can run in parallel, and a run
// leaves nothing behind: the schema is dropped, with everything in it, when
// tb ends. Close every store on it before then (a later t.Cleanup runs
// earlier).
func URL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		base = DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		unreachable(tb, err)
	}
	defer conn.Close(ctx)

	var b [8]byte
	rand.Read(b[:])
	schema := "keystile_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("postgrestest: create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() { drop(tb, base, schema) })
	u, err := withSearchPath(base, schema)
	if err != nil {
		tb.Fatalf("postgrestest: %s: %v", EnvURL, err)
	}
	return u
}

func drop(tb testing.TB, base, schema string) {
	// tb's own context is cancelled by the time cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Errorf("postgrestest: drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
		tb.Errorf("postgrestest: drop schema %s: %v", schema, err)
	}
}

func unreachable(tb testing.TB, err error) {
	tb.Helper()
	// pgx's connect errors name the host, user and database, never the
	// password.
	if os.Getenv("CI") == "true" {
		tb.Fatalf("postgrestest: PostgreSQL is not reachable (%s): %v; "+
			"CI starts it in .ci/run, so this is a broken build", EnvURL, err)
	}
	tb.Skipf("postgrestest: PostgreSQL is not reachable, so this test cannot run here: %v; "+
		"start one, or set %s to a server where you may create schemas (CI=true makes this a failure)", err, EnvURL)
}

// withSearchPath adds search_path=schema to a connection string in either
// libpq form: a URL's query, or a key=value list.
func withSearchPath(conn, schema string) (string, error) {
	if !strings.HasPrefix(conn, "postgres://") && !strings.HasPrefix(conn, "postgresql://") {
		return conn + " search_path=" + schema + " synchronous_commit=off", nil
	}
	u, err := url.Parse(conn)
	if err != nil {
		// url's errors quote the URL, which may hold a password.
		return "", errors.New("not a valid URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	// No test checks that a commit survives a crash, and a synchronous
	// commit waits for the disk: on a loaded CI machine a PostgreSQL
	// checkpoint's fsyncs once held a sign-in's commit past its client's
	// 30 s timeout. Asynchronous commit keeps every statement's meaning.
	if !q.Has("synchronous_commit") {
		q.Set("synchronous_commit", "off")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
