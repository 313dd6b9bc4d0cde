// Package sqlstore is the one implementation of Keystile's storage rules over
// SQL, shared by the sqlite and postgres backends: what a consume, a replay,
// a rotation, a renewal or a sign-out does, and in which statements and
// transactions, is written here once. A backend supplies only what its
// database really does differently: a [DB] that runs the statements (with
// its driver, its pool, its prepared statements) and a [Dialect] (its
// placeholders, whether it has row locks, how times and client strings are
// bound).
//
// Every single-use step is one statement or one transaction that locks what
// it decides on before it reads it, so two concurrent redemptions of one
// credential cannot both win, whichever connection, process or replica they
// come from: an upsert that changes no live row for a request, UPDATE …
// WHERE used_at IS NULL RETURNING for a code and for a refresh token's
// rotation, and a transaction for a sign-in, a rotation, a replay's
// revocation, a sign-out and a session renewal (on PostgreSQL a sign-in and
// a successful rotation are one statement: onestatement.go). On a database with
// row locks ([Dialect.RowLocks]) the transaction's first statement takes
// them; on one without (SQLite), the backend's transactions must take the
// database's write lock at BEGIN.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keystile/keystile/store"
)

// Row is one result row. *sql.Row and pgx.Row are both one.
type Row interface {
	Scan(dest ...any) error
}

// Querier runs the store's statements, named by their [Query], on a pool or
// inside a transaction. A Row that matched nothing scans an error that
// errors.Is [sql.ErrNoRows] (pgx.ErrNoRows is one).
type Querier interface {
	// Exec runs q and returns how many rows it changed.
	Exec(ctx context.Context, q Query, args ...any) (rowsAffected int64, err error)
	QueryRow(ctx context.Context, q Query, args ...any) Row
}

// LastExecer is the optional role of a transaction's Querier that can send
// the transaction's last statement together with its COMMIT, in one round
// trip (PostgreSQL's pipeline). ExecLast runs q and, if it succeeds,
// commits; the transaction is over when it returns nil. If q fails, the
// transaction is left for InTx to roll back.
type LastExecer interface {
	ExecLast(ctx context.Context, q Query, args ...any) (rowsAffected int64, err error)
}

// execLast runs q as the last statement of q's transaction: with the
// COMMIT where the Querier can send them together ([LastExecer]), as a
// plain Exec otherwise (outside a transaction, or on SQLite). A statement
// after it fails on the transaction that refuses it (postgres' lazyTx).
func execLast(ctx context.Context, tx Querier, q Query, args ...any) (int64, error) {
	if le, ok := tx.(LastExecer); ok {
		return le.ExecLast(ctx, q, args...)
	}
	return tx.Exec(ctx, q, args...)
}

// DB is a Querier on a pool that can also run a transaction.
type DB interface {
	Querier
	// InTx runs fn in one transaction and commits it if fn returns nil;
	// otherwise it rolls back and returns fn's error. Inside fn, only the
	// Querier fn is given may be used: a pool of one connection (SQLite)
	// would wait forever for the connection the transaction holds.
	InTx(ctx context.Context, fn func(Querier) error) error
}

// Store implements every method of [store.Store] but Close, which stays
// with the backend that owns the pool.
type Store struct {
	db DB
	d  *Dialect
}

// New returns a Store that runs its statements on db. db must run each
// Query as the text d.Render gives for it.
func New(db DB, d *Dialect) *Store {
	return &Store{db: db, d: d}
}

var errEmptyKey = errors.New("empty key")

// errLoneToken refuses a refresh token issued from a code that starts no
// family ([store.Codes.RedeemCode]).
var errLoneToken = errors.New("a code that starts no refresh-token family issues no token")

// fail names the backend and the operation in err, so that a logged error
// says where it came from; errors.Is still finds the store's sentinels.
func (s *Store) fail(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
}

// inserted maps an INSERT … ON CONFLICT DO NOTHING that changed no row to
// store.ErrDuplicate: the conflict clause turns a taken key into "0 rows"
// instead of a driver-specific unique-violation error, and leaves the first
// record as it was.
func inserted(n int64) error {
	if n == 0 {
		return store.ErrDuplicate
	}
	return nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// encodeJSON stores a scope or claims as JSON text; nil becomes "null" so
// that it comes back nil.
func encodeJSON(what string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", what, err)
	}
	return string(b), nil
}

func decodeJSON(what string, text []byte, v any) error {
	if err := json.Unmarshal(text, v); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}

// timeArg and textArg are the one place values cross into the database,
// as the dialect binds them; timeDest and bytes-then-string the way back.
func (s *Store) timeArg(t time.Time) any { return s.d.Time(t) }

func (s *Store) textArg(v string) any { return s.d.Text(v) }

// timeDest scans a time column into *t, in UTC: a timestamp (where pgx
// gives local time) or unix milliseconds, as [Dialect.Time] bound it; NULL
// is the zero time. A pointer, so that passing it to Scan allocates nothing.
func timeDest(t *time.Time) sql.Scanner { return (*timeScanner)(t) }

type timeScanner time.Time

func (t *timeScanner) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = timeScanner{}
	case time.Time:
		*t = timeScanner(v.UTC())
	case int64:
		*t = timeScanner(time.UnixMilli(v).UTC())
	default:
		return fmt.Errorf("a time column holds %T", src)
	}
	return nil
}
