package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keystile/keystile/store/internal/sqlstore"
)

// The shared store runs on pgx's own pool, not on database/sql through
// pgx/v5/stdlib: the native pool prepares each statement once per
// connection, when the connection first runs it (pgx's statement cache),
// and runs it in one round trip from then on, with no database/sql
// connection bookkeeping around every call.

// pgxQuerier runs the shared store's statements on a pool or a transaction,
// whose Exec and QueryRow pgx spells alike. pgx's statement cache is keyed
// by the text, so each statement is prepared once per connection.
type pgxQuerier struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (p pgxQuerier) Exec(ctx context.Context, q sqlstore.Query, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, statements()[q], args...)
	return tag.RowsAffected(), err
}

func (p pgxQuerier) QueryRow(ctx context.Context, q sqlstore.Query, args ...any) sqlstore.Row {
	return p.q.QueryRow(ctx, statements()[q], args...)
}

// pgxDB is the pool, which can also run a transaction.
type pgxDB struct {
	pgxQuerier
	pool *pgxpool.Pool
}

var _ sqlstore.DB = pgxDB{}

// InTx runs fn in a transaction at PostgreSQL's default READ COMMITTED
// isolation: a statement that waited for another transaction's row lock
// re-reads the row as that transaction left it, so the loser of a race
// sees the credential used rather than failing to serialize.
//
// BEGIN goes out with the transaction's first statement, in one pipeline:
// a transaction costs its statements and its COMMIT in round trips, not
// one more for a BEGIN answered alone (as pgx's Begin waits for it). A
// transaction in which fn runs nothing sends nothing.
func (p pgxDB) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection given back inside a transaction (a failed ROLLBACK) is
	// closed by the pool rather than reused.
	defer conn.Release()
	tx := &lazyTx{conn: conn.Conn()}
	defer func() {
		if tx.open { // fn failed or panicked, or COMMIT did
			// Rolled back even when ctx is done, so that the connection
			// goes back to the pool clean; bounded, so that a server that
			// stopped answering holds the request for seconds, not until
			// TCP gives up. A connection left mid-transaction is closed by
			// the pool rather than reused.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			defer cancel()
			_, _ = tx.conn.Exec(rctx, "rollback")
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if !tx.open {
		return nil
	}
	tag, err := tx.conn.Exec(ctx, "commit")
	if err != nil {
		return err
	}
	tx.open = false
	if tag.String() != "COMMIT" {
		// A COMMIT of a transaction a failed statement aborted rolls
		// it back, and says so only in its tag.
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// lazyTx is a transaction on conn that begins with its first statement.
type lazyTx struct {
	conn *pgx.Conn
	open bool // BEGIN has run, and neither COMMIT nor ROLLBACK since
	// done: ExecLast committed. A statement after it would run outside
	// the transaction (or begin another), so it fails instead.
	done bool
}

// errAfterCommit refuses a statement after the transaction's last.
var errAfterCommit = errors.New("postgres: a statement after the transaction's COMMIT")

// rollbackTimeout bounds InTx's ROLLBACK after a failure.
const rollbackTimeout = 5 * time.Second

func (t *lazyTx) Exec(ctx context.Context, q sqlstore.Query, args ...any) (int64, error) {
	if t.done {
		return 0, errAfterCommit
	}
	if t.open {
		tag, err := t.conn.Exec(ctx, statements()[q], args...)
		return tag.RowsAffected(), err
	}
	br, err := t.begin(ctx, q, args)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

func (t *lazyTx) QueryRow(ctx context.Context, q sqlstore.Query, args ...any) sqlstore.Row {
	if t.done {
		return errRow{errAfterCommit}
	}
	if t.open {
		return t.conn.QueryRow(ctx, statements()[q], args...)
	}
	br, err := t.begin(ctx, q, args)
	if err != nil {
		return errRow{err}
	}
	return batchRow{br}
}

// ExecLast implements [sqlstore.LastExecer]: q and COMMIT (and BEGIN, if
// q is the transaction's first statement) in one pipeline.
func (t *lazyTx) ExecLast(ctx context.Context, q sqlstore.Query, args ...any) (int64, error) {
	if t.done {
		return 0, errAfterCommit
	}
	b := &pgx.Batch{}
	if !t.open {
		b.Queue("begin")
	}
	b.Queue(statements()[q], args...)
	b.Queue("commit")
	br := t.conn.SendBatch(ctx, b)
	defer br.Close()
	if !t.open {
		if _, err := br.Exec(); err != nil {
			return 0, err
		}
		t.open = true
	}
	tag, err := br.Exec()
	if err != nil {
		return 0, err // COMMIT was skipped: InTx rolls back
	}
	commit, err := br.Exec()
	if err != nil {
		return 0, err
	}
	t.open, t.done = false, true
	if commit.String() != "COMMIT" {
		return 0, pgx.ErrTxCommitRollback
	}
	return tag.RowsAffected(), br.Close()
}

// begin sends BEGIN and q in one pipeline and reads BEGIN's answer; q's is
// left for the caller to read, and the batch to close.
func (t *lazyTx) begin(ctx context.Context, q sqlstore.Query, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(statements()[q], args...)
	br := t.conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, err
	}
	t.open = true
	return br, nil
}

// batchRow is the one row of a pipeline's last statement.
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// errRow is a row that could not be read.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
