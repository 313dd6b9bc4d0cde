// Package sqlite is a [store.Store] in one SQLite database file, Keystile's
// embedded default. It uses modernc.org/sqlite, which is pure Go, so the
// binary needs no cgo.
//
// The schema is created and upgraded at [Open] by versioned migrations
// (pressly/goose) embedded from migrations/. Keys are SHA-256 hashes stored
// as BLOB primary keys, times are unix milliseconds, scopes and claims are
// JSON text. Every single-use step is one statement (DELETE … RETURNING for a
// request, UPDATE … RETURNING for a code) or one transaction that takes the
// write lock at BEGIN (a refresh-token rotation, a replay's revocation, a
// sign-out, a session renewal), so two concurrent redemptions of one
// credential cannot both win, whichever connection or process they come
// from.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/keystile/keystile/store"
)

var _ store.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// pragmas are applied by the driver to every new connection, not just the
// first: busy_timeout and foreign_keys are per connection.
//
//   - busy_timeout: a writer waits up to 5 s for another writer instead of
//     failing at once with SQLITE_BUSY.
//   - journal_mode=WAL: readers do not block the writer and vice versa.
//   - synchronous=NORMAL: with WAL, a power cut can lose the last
//     transactions but never corrupts the file; codes and pending requests
//     live for a minute, so that trade is worth the fsync it saves per write.
//   - foreign_keys: off by default in SQLite; on, so that tables referring
//     to others (refresh-token families) keep their references whole.
//   - _txlock=immediate: a transaction takes the write lock at BEGIN, so two
//     read-then-write transactions cannot deadlock on upgrading their locks.
const pragmas = "_pragma=busy_timeout(5000)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(NORMAL)" +
	"&_pragma=foreign_keys(1)" +
	"&_txlock=immediate"

// Store is a [store.Store] backed by SQLite. It is safe for concurrent use,
// and several processes may share one database file.
//
// Its pool holds a single connection (see Open), so code inside a
// transaction must use only the *sql.Tx (and tx.StmtContext for the prepared
// statements): a call on s.db there would wait for the connection the
// transaction itself holds, forever.
type Store struct {
	db *sql.DB
	statements
}

// statements are prepared once at Open: parsing a statement costs more than
// running it (two thirds of a create-and-consume was spent in
// sqlite3_prepare before this), and preparing eagerly means a typo in any
// query fails Open, hence every test, rather than one request in production.
// The pool has one connection, so each is prepared exactly once.
type statements struct {
	createRequest, getRequest, consumeRequest *sql.Stmt
	createCode, consumeCode, usedCode         *sql.Stmt
	createSession, getSession, endSession     *sql.Stmt
	revokeSessionFamilies                     *sql.Stmt
	moveSessionFamilies, moveSessionCodes     *sql.Stmt
	createFamily, createRefreshToken          *sql.Stmt
	getRefreshToken, rotateCheck              *sql.Stmt
	markRefreshUsed, revokeFamily             *sql.Stmt
	tombstoneFamily                           *sql.Stmt
	revokeAccessToken, accessTokenRevoked     *sql.Stmt
}

// prepare prepares every statement; a new record kind adds its lines here.
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.createRequest, createRequestSQL},
		{&s.getRequest, getRequestSQL},
		{&s.consumeRequest, consumeRequestSQL},
		{&s.createCode, createCodeSQL},
		{&s.consumeCode, consumeCodeSQL},
		{&s.usedCode, usedCodeSQL},
		{&s.createSession, createSessionSQL},
		{&s.getSession, getSessionSQL},
		{&s.endSession, endSessionSQL},
		{&s.revokeSessionFamilies, revokeSessionFamiliesSQL},
		{&s.moveSessionFamilies, moveSessionFamiliesSQL},
		{&s.moveSessionCodes, moveSessionCodesSQL},
		{&s.createFamily, createFamilySQL},
		{&s.createRefreshToken, createRefreshTokenSQL},
		{&s.getRefreshToken, getRefreshTokenSQL},
		{&s.rotateCheck, rotateCheckSQL},
		{&s.markRefreshUsed, markRefreshUsedSQL},
		{&s.revokeFamily, revokeFamilySQL},
		{&s.tombstoneFamily, tombstoneFamilySQL},
		{&s.revokeAccessToken, revokeAccessTokenSQL},
		{&s.accessTokenRevoked, accessTokenRevokedSQL},
	} {
		st, err := s.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = st
	}
	return nil
}

// Open opens (creating it if needed) the SQLite database at path and brings
// its schema up to date. path is a file name, a "file:" URI, or ":memory:"
// for a private in-memory database that lives until [Store.Close].
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	db, err := sql.Open("sqlite", path+sep+pragmas)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One connection. SQLite runs one writer at a time, and every method but
	// GetAuthRequest writes: with more connections, the extra writers do not
	// run in parallel, they sleep in SQLite's busy handler, whose back-off
	// made 50 concurrent consumes of one code take 4–20 s under -race on a
	// 2-core machine, against 0.4 s when they queue for the one connection in
	// database/sql. It is also what ":memory:" needs, where every connection
	// would be a database of its own, so the connection is never retired.
	// (If reads ever dominate, add a second, query_only pool for them.)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.prepare(ctx); err != nil {
		// Closing the pool closes the statements prepared so far.
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// migrate applies the pending embedded migrations.
func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	// The global registry holds Go migrations other packages may register
	// for their own databases; this schema is SQL files only.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Close closes the database, which finalizes the prepared statements too; the
// Store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// deleteExpiredSQL are DeleteExpired's statements, each given now. Refresh
// tokens go before families, so that the count includes the tokens a
// family's cascade would otherwise delete unseen. A token goes when it or
// its family expires or its family is revoked; a family itself stays until
// its own expiry even when revoked, so that a token created in it later (the
// winner of a code-replay race, still on its way) is born revoked.
var deleteExpiredSQL = []struct{ what, query string }{
	{"auth requests", `DELETE FROM auth_requests WHERE expires_at <= ?1`},
	{"codes", `DELETE FROM auth_codes WHERE expires_at <= ?1`},
	{"sessions", `DELETE FROM sessions WHERE expires_at <= ?1`},
	{"refresh tokens", `DELETE FROM refresh_tokens WHERE expires_at <= ?1 OR family_id IN
		(SELECT id FROM refresh_families WHERE revoked = 1 OR expires_at <= ?1)`},
	{"refresh families", `DELETE FROM refresh_families WHERE expires_at <= ?1`},
	{"revoked access tokens", `DELETE FROM revoked_access_tokens WHERE expires_at <= ?1`},
}

// DeleteExpired implements [store.Store]. Every table is cleaned in one
// transaction, so the count is the number of rows that really went.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (n int64, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired: %w", err)
	}
	// After a Commit, Rollback does nothing.
	defer tx.Rollback()
	for _, d := range deleteExpiredSQL {
		res, err := tx.ExecContext(ctx, d.query, millis(now))
		if err != nil {
			return 0, fmt.Errorf("sqlite: delete expired %s: %w", d.what, err)
		}
		m, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("sqlite: delete expired %s: %w", d.what, err)
		}
		n += m
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: delete expired: %w", err)
	}
	return n, nil
}

var errEmptyKey = errors.New("sqlite: empty key")

// millis and fromMillis are the one place times cross into the database:
// unix milliseconds in, UTC out. A zero time survives the trip, since
// its unix milliseconds fit in an int64.
func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// encodeJSON stores a scope or claims as JSON text; nil becomes "null" so
// that it comes back nil.
func encodeJSON(what string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("sqlite: encode %s: %w", what, err)
	}
	return string(b), nil
}

func decodeJSON(what, text string, v any) error {
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return fmt.Errorf("sqlite: decode %s: %w", what, err)
	}
	return nil
}

// isNoRows maps the "nothing matched" of a consume to store.ErrNotFound.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
