// Package postgres is a [store.Store] in a PostgreSQL database, for running
// several Keystile replicas on one shared database. It uses jackc/pgx/v5 and
// its connection pool.
//
// The schema is created and upgraded at [Open] by versioned migrations
// (pressly/goose) embedded from migrations/, under a PostgreSQL advisory lock
// so that of replicas starting together one migrates and the others wait; a
// schema that already has every migration is recognised in one query, and
// goose is not run. Every revocation is announced by NOTIFY, which
// [Store.FollowRevocations] listens for. Keys are SHA-256 hashes
// stored as bytea primary keys, times are timestamptz kept to the
// millisecond, scopes and claims are JSON text.
//
// Every single-use step is one statement or one transaction whose first
// statement locks the rows it decides on, so two concurrent redemptions of
// one credential cannot both win, whichever replica they come from: DELETE …
// RETURNING for a request, UPDATE … WHERE used_at IS NULL RETURNING for a
// code, UPDATE … WHERE used_at IS NULL for a refresh-token rotation (with
// the successor's INSERT in one statement, through a data-modifying WITH).
// At PostgreSQL's default READ COMMITTED isolation, a
// statement that waited for another transaction's row lock re-reads the row
// as that transaction left it, so the loser sees the credential used.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

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

// versionTable is goose's record of the applied migrations. It is not
// goose's default name, so that an application keeping its own goose
// migrations in the same schema does not mistake Keystile's for its own.
const versionTable = "keystile_goose_db_version"

// migrationLockID names the session-level advisory lock held while
// migrating (the CRC-32 of "keystile migrations"). Advisory locks are per
// database, so replicas of one deployment wait for each other, and other
// goose users of the database, on goose's default id, do not wait for us.
const migrationLockID int64 = 0x6a4c0c15

// Store is a [store.Store] backed by PostgreSQL. It is safe for concurrent
// use, and any number of Stores, in one process or many, may share one
// database.
type Store struct {
	*rules // every operation but Close, shared with the sqlite backend
	pool   *pgxpool.Pool
	// connConfig opens the connections that are not the pool's: each
	// revocation follower's listener (revocation_feed.go).
	connConfig *pgx.ConnConfig
}

// rules names sqlstore.Store for embedding: the field is unexported, so its
// methods are the Store's without the internal type showing in the API.
type rules = sqlstore.Store

// dialect is PostgreSQL's: the statements are written in its spelling, and
// it has row locks. Times are timestamptz, truncated to the millisecond on
// the way in, as the store contract keeps them (and judges expiry), and UTC
// on the way out, where pgx gives local time; a zero time survives the trip,
// since timestamptz reaches back to 4713 BC. Client strings are bytea, byte
// for byte, and never nil, which pgx would send as NULL.
var dialect = sqlstore.Dialect{
	Name:        "postgres",
	Param:       "$",
	RowLocks:    true,
	WritingCTEs: true,
	Duplicate: func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == uniqueViolation
	},
	Time: func(t time.Time) any { return t.Truncate(time.Millisecond) },
	Text: func(s string) any { return append([]byte{}, s...) },
}

// uniqueViolation is PostgreSQL's SQLSTATE for a taken key.
const uniqueViolation = "23505"

// statements returns the dialect's texts, indexed by sqlstore.Query. Open
// checks them all (see check), so that a typo in any query fails Open, hence
// every test, rather than one request in production. They are rendered at
// the first Open, not at package initialisation: every keystile binary links
// this package, and one serving from SQLite or memory has no use for them.
var statements = sync.OnceValue(dialect.Render)

// Open connects to the PostgreSQL database at url and brings its schema up
// to date. url is a libpq connection string, usually
// postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…; pgxpool's pool_*
// parameters (pool_max_conns…) size the pool, and other parameters, such as
// search_path, are set on every connection. As with libpq, the password may
// instead come from PGPASSWORD or a password file (PGPASSFILE, ~/.pgpass),
// which keeps it out of the URL. A URL that holds one is never repeated in
// an error from Open.
func Open(ctx context.Context, url string) (*Store, error) {
	if url == "" {
		return nil, errors.New("postgres: empty database URL")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors quote the URL with the password masked, on a
		// best-effort basis for a malformed one: say nothing of it at all.
		return nil, errors.New("postgres: the database URL cannot be parsed; " +
			"want postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAM=VALUE&…]")
	}
	return openConfig(ctx, cfg)
}

// openConfig is Open with the URL parsed.
func openConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	// The pool connects lazily: make the first connection now, so that an
	// unreachable server, a missing migration or a broken query fails here.
	if err := firstConnection(ctx, pool, cfg.ConnConfig); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &Store{rules: sqlstore.New(pgxDB{pgxQuerier{pool}, pool}, &dialect), pool: pool,
		connConfig: cfg.ConnConfig.Copy()}, nil
}

// firstConnection opens the pool's first connection, brings the schema up
// to date if it is not (goose, under the migration lock), and checks every
// statement against it. A schema that is current costs one query: the
// restart of a replica, or another replica starting, waits for nothing
// else.
func firstConnection(ctx context.Context, pool *pgxpool.Pool, cc *pgx.ConnConfig) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	current, err := schemaCurrent(ctx, conn.Conn())
	if err != nil {
		return err
	}
	if !current {
		if err := migrate(ctx, cc); err != nil {
			return err
		}
	}
	return check(ctx, conn.Conn(), statements())
}

// schemaCurrent reports whether every embedded migration is applied. No
// version table yet is a schema to create, not an error.
func schemaCurrent(ctx context.Context, conn *pgx.Conn) (bool, error) {
	embedded, err := schema.Versions(migrationFiles())
	if err != nil {
		return false, err
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, versionTable).Scan(&exists); err != nil || !exists {
		return false, err
	}
	rows, err := conn.Query(ctx, `SELECT version_id FROM `+versionTable+` WHERE is_applied`)
	if err != nil {
		return false, fmt.Errorf("read the schema version: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return false, fmt.Errorf("read the schema version: %w", err)
	}
	return schema.Current(embedded, applied), nil
}

// migrationFiles is the embedded migrations directory.
func migrationFiles() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // a constant, valid path into an embedded FS
	}
	return sub
}

// check has the server parse and describe every statement, all in one
// round trip (a pipeline of unnamed prepares, each replacing the last), so
// that a typo in any query fails Open, hence every test, rather than one
// request in production. Each connection then prepares a statement when it
// first runs it, and keeps it in pgx's statement cache: no connection pays
// for the statements it never runs, nor one round trip per statement
// before its first query.
func check(ctx context.Context, conn *pgx.Conn, statements []string) error {
	p := conn.PgConn().StartPipeline(ctx)
	for _, q := range statements {
		p.SendPrepare("", q, nil)
	}
	err := p.Sync()
	for i := 0; err == nil && i < len(statements); i++ {
		if _, err = p.GetResults(); err != nil {
			err = fmt.Errorf("prepare %q: %w", statements[i], err)
		}
	}
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	return err
}

// migrate applies the pending embedded migrations through database/sql,
// which goose needs, on connections of its own that it closes afterwards.
func migrate(ctx context.Context, cc *pgx.ConnConfig) error {
	sub := migrationFiles()
	db := stdlib.OpenDB(*cc.Copy())
	defer db.Close()
	// The global registry holds Go migrations other packages may register
	// for their own databases; this schema is SQL files only.
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithDisableGlobalRegistry(true),
		goose.WithTableName(versionTable))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	err = withMigrationLock(ctx, db, func() error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
	schema.ReleaseParseBuffers()
	return err
}

// withMigrationLock runs fn holding the migration lock, a session-level
// advisory lock, so that of replicas starting together one migrates and the
// others then find the schema up to date.
//
// The lock is taken around all of Up rather than through goose's
// WithSessionLocker, which leaves Up's first step (HasPending, which creates
// goose's version table) unlocked: on an empty database every replica but
// one then fails to create that table and sleeps a second before retrying.
// And pg_advisory_lock waits in the server, waking the next replica as soon
// as the lock is free, where goose's lock.NewPostgresSessionLocker polls
// every few seconds; a cancelled ctx cancels the wait.
func withMigrationLock(ctx context.Context, db *sql.DB, fn func() error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	err = fn()
	// Unlock even when ctx is done; should that fail, closing the database
	// ends the session, which releases the lock too.
	if _, uerr := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID); uerr != nil && err == nil {
		err = fmt.Errorf("release the migration lock: %w", uerr)
	}
	return err
}

// Close closes every connection of the pool, waiting for those in use to be
// released; the Store must not be used afterwards.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping implements [store.Store]: one round trip on a pooled connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}
