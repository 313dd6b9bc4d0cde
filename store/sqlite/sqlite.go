// Package sqlite is a [store.Store] in one SQLite database file, Keystile's
// embedded default. It uses modernc.org/sqlite, which is pure Go, so the
// binary needs no cgo.
//
// The schema is created and upgraded at [Open] by versioned migrations
// (pressly/goose) embedded from migrations/. Keys are SHA-256 hashes stored
// as BLOB primary keys, times are unix milliseconds, scopes and claims are
// JSON text. Every single-use step is one statement (DELETE … RETURNING for a
// request, UPDATE … RETURNING for a code) or one transaction that takes the
// write lock at BEGIN (a sign-in, a refresh-token rotation, a replay's
// revocation, a sign-out, a session renewal), so two concurrent redemptions of one
// credential cannot both win, whichever connection or process they come
// from.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/internal/schema"
	"github.com/keystile/keystile/store/internal/sqlstore"
)

var (
	_ store.Store       = (*Store)(nil)
	_ store.SigningKeys = (*Store)(nil)
	_ store.Throttles   = (*Store)(nil)
)

//go:embed migrations/*.sql
var migrations embed.FS

// pragmas are applied by the driver to every new connection, not just the
// first: busy_timeout and foreign_keys are per connection.
//
//   - busy_timeout: a writer waits up to 5 s for another writer instead of
//     failing at once with SQLITE_BUSY.
//   - journal_mode=WAL: readers do not block the writer and vice versa.
//   - synchronous=NORMAL: with WAL, a power cut can lose the last
//     transactions but never corrupts the file; codes and used request ids
//     live for minutes, so that trade is worth the fsync it saves per write.
//   - foreign_keys: off by default in SQLite; on, so that tables referring
//     to others (refresh-token families) keep their references whole.
//   - wal_autocheckpoint and journal_size_limit are not here: they are the
//     request connection's alone, set when its checkpointer starts
//     (checkpoint.go).
//   - _txlock=immediate: a database/sql transaction (the migrations') takes
//     the write lock at BEGIN, as the store's own do (BEGIN IMMEDIATE, see
//     pool), so two read-then-write transactions cannot deadlock on
//     upgrading their locks.
const pragmas = "_pragma=busy_timeout(5000)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(NORMAL)" +
	"&_pragma=foreign_keys(1)" +
	"&_txlock=immediate"

// Store is a [store.Store] backed by SQLite. It is safe for concurrent use,
// and several processes may share one database file.
type Store struct {
	*rules // every operation but Close, shared with the postgres backend
	pool   *pool
	ckpt   *checkpointer // nil for a database without a WAL (":memory:")
}

// Option configures [Open].
type Option func(*options)

type options struct {
	log         *slog.Logger
	checkpoints checkpointConfig
}

// WithLogger sets where the Store reports what goes wrong in the
// background, a failed WAL checkpoint (checkpoint.go); nil, or no
// WithLogger, is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// rules names sqlstore.Store for embedding: the field is unexported, so its
// methods are the Store's without the internal type showing in the API.
type rules = sqlstore.Store

// dialect is how SQLite differs from the statements' PostgreSQL spelling.
// Times are unix milliseconds in INTEGER columns; client strings are TEXT,
// which in SQLite holds any bytes. SQLite has no row locks: every
// transaction takes the write lock at BEGIN instead (BEGIN IMMEDIATE).
var dialect = sqlstore.Dialect{
	Name:     "sqlite",
	Param:    "?",
	RowLocks: false,
	Time:     func(t time.Time) any { return t.UnixMilli() },
	Text:     func(s string) any { return s },
}

// Open opens (creating it if needed) the SQLite database at path and brings
// its schema up to date. path is a file name, a "file:" URI, or ":memory:"
// for a private in-memory database that lives until [Store.Close].
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{log: slog.Default(), checkpoints: defaultCheckpoints}
	for _, opt := range opts {
		opt(&o)
	}
	return open(ctx, path, o)
}

func open(ctx context.Context, path string, o options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	file := FileName(path)
	if err := createPrivate(file); err != nil {
		return nil, fmt.Errorf("sqlite: create %s: %w", file, err)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	dsn := path + sep + pragmas
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One connection. SQLite runs one writer at a time, and most methods
	// write: with more connections, the extra writers do not
	// run in parallel, they sleep in SQLite's busy handler, whose back-off
	// made 50 concurrent consumes of one code take 4–20 s under -race on a
	// 2-core machine, against 0.4 s when they queue for the one connection
	// (today in pool, which holds it). It is also what ":memory:" needs, where every connection
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
	p, err := prepare(ctx, db)
	if err != nil {
		// prepare closed the statements it had prepared, the connection and
		// the database.
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{rules: sqlstore.New(p, &dialect), pool: p}
	var mode, locking string
	if err := p.conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		p.close()
		return nil, fmt.Errorf("sqlite: open %s: journal mode: %w", path, err)
	}
	if err := p.conn.QueryRowContext(ctx, "PRAGMA locking_mode").Scan(&locking); err != nil {
		p.close()
		return nil, fmt.Errorf("sqlite: open %s: locking mode: %w", path, err)
	}
	if mode == "wal" && locking == "exclusive" {
		p.close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, errExclusive)
	}
	if mode == "wal" {
		if s.ckpt, err = startCheckpointer(ctx, dsn, walPath(file), p, o.checkpoints, o.log); err != nil {
			p.close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	privateSidecars(file)
	return s, nil
}

// errExclusive refuses locking_mode(EXCLUSIVE) among a path's options. The
// request connection would hold the file from its first transaction until
// Close, so the checkpointer's connection could never checkpoint (it failed
// Open after busy_timeout with "database is locked"), nor could another
// process — keystile check or a key command beside a running serve — open
// the file. What it would buy was measured (docs/performance.md, "The
// SQLite path", third round): about 5 % of the server's CPU per sign-in or
// rotation, the WAL's fcntl locks; not worth giving up the sharing the
// store promises.
var errExclusive = errors.New("locking_mode(EXCLUSIVE) is not supported: it keeps every other connection out, " +
	"this store's own checkpointer and other keystile processes included; remove it from the path's options")

// FileName is the database file that [Open]'s path names: a plain path may
// carry the driver's options after "?" (path?_pragma=…), which the driver
// strips as it opens the file, and so does this; "file:" URIs and
// ":memory:" are SQLite's to read and are returned whole.
func FileName(path string) string {
	if !plainFile(path) {
		return path
	}
	// As modernc.org/sqlite reads a DSN: a "?" at index 0 is part of the name.
	if i := strings.IndexByte(path, '?'); i >= 1 {
		return path[:i]
	}
	return path
}

// migrate applies the pending embedded migrations. A schema that has them
// all costs one query, where goose's Up takes several even when nothing is
// pending.
func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if current, err := schemaCurrent(ctx, db, sub); err != nil || current {
		return err
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
	schema.ReleaseParseBuffers()
	return nil
}

// schemaCurrent reports whether every migration in fsys is applied. No
// version table yet (a new file) is a schema to create, not an error.
func schemaCurrent(ctx context.Context, db *sql.DB, fsys fs.FS) (bool, error) {
	embedded, err := schema.Versions(fsys)
	if err != nil {
		return false, err
	}
	// goose's default table; SQLite's files hold one application each.
	rows, err := db.QueryContext(ctx, `SELECT version_id FROM goose_db_version WHERE is_applied`)
	if err != nil {
		return false, nil // no table yet, or another failure: goose, which reports it, decides
	}
	defer rows.Close()
	var applied []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return false, fmt.Errorf("read the schema version: %w", err)
		}
		applied = append(applied, v)
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read the schema version: %w", err)
	}
	return schema.Current(embedded, applied), nil
}

// Close closes the database, which finalizes the prepared statements too; the
// Store must not be used afterwards.
func (s *Store) Close() error {
	var errs []error
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.close())
	}
	errs = append(errs, s.pool.close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Ping implements [store.Store]. It waits for the one connection, so a ping
// that answers also says that the database is not stuck.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.ping(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}
