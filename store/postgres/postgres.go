// Package postgres is a [store.Store] in a PostgreSQL database, for running
// several Keystile replicas on one shared database. It uses jackc/pgx/v5 and
// its connection pool.
//
// The schema is created and upgraded at [Open] by versioned migrations
// (pressly/goose) embedded from migrations/, under a PostgreSQL advisory lock
// so that of replicas starting together one migrates and the others wait. Keys are SHA-256 hashes
// stored as bytea primary keys, times are timestamptz kept to the
// millisecond, scopes and claims are JSON text.
//
// Every single-use step is one statement or one transaction whose first
// statement locks the rows it decides on, so two concurrent redemptions of
// one credential cannot both win, whichever replica they come from: DELETE …
// RETURNING for a request, UPDATE … WHERE used_at IS NULL RETURNING for a
// code, SELECT … FOR NO KEY UPDATE of the token and its family for a
// refresh-token rotation. At PostgreSQL's default READ COMMITTED isolation, a
// statement that waited for another transaction's row lock re-reads the row
// as that transaction left it, so the loser sees the credential used.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/keystile/keystile/store"
)

var _ store.Store = (*Store)(nil)

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
	pool *pgxpool.Pool
}

// queries is every statement the Store runs. Each new connection prepares
// them all (see Open), so that a typo in any query fails Open, hence every
// test, rather than one request in production; a new record kind adds its
// statements here.
var queries = [][]string{
	{createRequestSQL, getRequestSQL, consumeRequestSQL},
	{createCodeSQL, consumeCodeSQL, usedCodeSQL},
	{createSessionSQL, getSessionSQL, endSessionSQL, revokeSessionFamiliesSQL,
		lockSessionSQL, moveSessionFamiliesSQL, moveSessionCodesSQL},
	{createFamilySQL, createRefreshTokenSQL, getRefreshTokenSQL, rotateCheckSQL,
		markRefreshUsedSQL, revokeFamilySQL, tombstoneFamilySQL},
	{revokeAccessTokenSQL, accessTokenRevokedSQL},
	deleteExpiredQueries(),
}

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
	if err := migrate(ctx, cfg.ConnConfig); err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	cfg.AfterConnect = prepare
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	// The pool connects lazily: make the first connection now, which
	// prepares every statement, so that a broken query or an unreachable
	// server fails here.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &Store{pool: pool}, nil
}

// prepare prepares every statement on a new connection. Naming each after
// its own text makes pgx use the prepared statement when that text is run.
func prepare(ctx context.Context, conn *pgx.Conn) error {
	for _, group := range queries {
		for _, q := range group {
			if _, err := conn.Prepare(ctx, q, q); err != nil {
				return fmt.Errorf("prepare %q: %w", q, err)
			}
		}
	}
	return nil
}

// migrate applies the pending embedded migrations through database/sql,
// which goose needs, on connections of its own that it closes afterwards.
func migrate(ctx context.Context, cc *pgx.ConnConfig) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
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
	return withMigrationLock(ctx, db, func() error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
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

// deleteExpiredSQL are DeleteExpired's statements, each given now. Refresh
// tokens go before families, so that the count includes the tokens a
// family's cascade would otherwise delete unseen. A token goes when it or
// its family expires or its family is revoked; a family itself stays until
// its own expiry even when revoked, so that a token created in it later (the
// winner of a code-replay race, still on its way) is born revoked.
var deleteExpiredSQL = []struct{ what, query string }{
	{"auth requests", `DELETE FROM auth_requests WHERE expires_at <= $1`},
	{"codes", `DELETE FROM auth_codes WHERE expires_at <= $1`},
	{"sessions", `DELETE FROM sessions WHERE expires_at <= $1`},
	{"refresh tokens", `DELETE FROM refresh_tokens WHERE expires_at <= $1 OR family_id IN
		(SELECT id FROM refresh_families WHERE revoked OR expires_at <= $1)`},
	{"refresh families", `DELETE FROM refresh_families WHERE expires_at <= $1`},
	{"revoked access tokens", `DELETE FROM revoked_access_tokens WHERE expires_at <= $1`},
}

func deleteExpiredQueries() []string {
	qs := make([]string, len(deleteExpiredSQL))
	for i, d := range deleteExpiredSQL {
		qs[i] = d.query
	}
	return qs
}

// DeleteExpired implements [store.Store]. Every table is cleaned in one
// transaction, so the count is the number of rows that really went.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, d := range deleteExpiredSQL {
			tag, err := tx.Exec(ctx, d.query, ms(now))
			if err != nil {
				return fmt.Errorf("%s: %w", d.what, err)
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired: %w", err)
	}
	return n, nil
}

var errEmptyKey = errors.New("postgres: empty key")

// ms and fromDB are the one place times cross into the database: truncated
// to the millisecond on the way in, as the store contract keeps them (and
// judges expiry), UTC on the way out, where pgx gives local time. A zero
// time survives the trip: timestamptz reaches back to 4713 BC.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

func fromDB(t time.Time) time.Time { return t.UTC() }

// usedAt maps a nullable used_at to the zero time for NULL.
func usedAt(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return fromDB(*t)
}

// raw stores a string a client sent unchecked (state, nonce) as bytea,
// byte for byte. It is never nil, which pgx would send as NULL.
func raw(s string) []byte { return append([]byte{}, s...) }

// encodeJSON stores a scope or claims as JSON text; nil becomes "null" so
// that it comes back nil.
func encodeJSON(what string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("postgres: encode %s: %w", what, err)
	}
	return string(b), nil
}

func decodeJSON(what, text string, v any) error {
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return fmt.Errorf("postgres: decode %s: %w", what, err)
	}
	return nil
}

// isNoRows maps the "nothing matched" of a read or consume to
// store.ErrNotFound.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// insertedOne maps an INSERT … ON CONFLICT DO NOTHING that changed no row to
// store.ErrDuplicate.
func insertedOne(tag pgconn.CommandTag, op string) error {
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrDuplicate)
	}
	return nil
}
