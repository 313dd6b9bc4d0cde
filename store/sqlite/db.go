package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/keystile/keystile/store/internal/sqlstore"
)

// pool runs the shared store's statements on the database's one connection
// (see Open), held for the Store's life, each as a statement prepared on it
// once at Open: parsing a statement costs more than running it (two thirds
// of a create-and-consume was spent in sqlite3_prepare before statements
// were prepared), and preparing eagerly means a typo in any query fails
// Open, hence every test, rather than one request in production.
//
// Transactions are the prepared BEGIN IMMEDIATE, COMMIT and ROLLBACK on
// that connection, not database/sql's Tx: a Tx cost a goroutine watching
// its context, a Stmt re-bound to it per statement and a BEGIN and COMMIT
// parsed anew by the driver every time — more than the statements of a
// refresh-token rotation themselves.
//
// The caller's context is checked before a call takes the connection and
// while it waits for it, but the statements run on a context that is never
// done: the driver would otherwise start a goroutine per statement to
// interrupt it on cancellation. A statement here is a point read or write
// that takes microseconds; the longest it can wait is busy_timeout, for a
// writer in another process.
type pool struct {
	db   *sql.DB
	conn *sql.Conn
	// turn holds the connection's turn: one caller, or one transaction, at
	// a time, as a database/sql pool of one connection would queue them.
	turn                    chan struct{}
	stmts                   []*sql.Stmt // indexed by sqlstore.Query
	begin, commit, rollback *sql.Stmt
	// wrote, when the Store has a checkpointer, tells it that a call may
	// have written (checkpoint.go); nil otherwise.
	wrote chan struct{}
	// walPath and walMax are the WAL file and the size past which a call
	// checkpoints before it hands the turn back (backstop); walMax 0 never.
	// walNext is that size now: raised by walMax after a failed backstop,
	// so that a reader holding the WAL in another process costs one wait
	// per walMax of growth, not one per call.
	walPath         string
	walMax, walNext int64
	log             *slog.Logger // where a backstop that could not finish is reported
	// checkpointing is held by every checkpoint this process runs: SQLite
	// runs one at a time per database and fails the others at once with
	// SQLITE_BUSY, without waiting, so the backstop waits here for the
	// checkpointer's.
	checkpointing sync.Mutex
}

var _ sqlstore.DB = (*pool)(nil)

// prepare takes db's connection and prepares every statement of the
// dialect on it.
func prepare(ctx context.Context, db *sql.DB) (*pool, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	texts := dialect.Render()
	p := &pool{db: db, conn: conn, turn: make(chan struct{}, 1), stmts: make([]*sql.Stmt, len(texts))}
	prep := func(text string) (*sql.Stmt, error) {
		st, err := conn.PrepareContext(ctx, text)
		if err != nil {
			p.closeAll() //nolint:errcheck // the prepare error is the one to report
			return nil, fmt.Errorf("prepare %q: %w", text, err)
		}
		return st, nil
	}
	for q, text := range texts {
		if text == "" { // a statement SQLite has no use for (sqlstore.Dialect.WritingCTEs)
			continue
		}
		if p.stmts[q], err = prep(text); err != nil {
			return nil, err
		}
	}
	// IMMEDIATE: the transaction takes the write lock at BEGIN, so that
	// two read-then-write transactions (of two processes sharing the file)
	// cannot deadlock on upgrading their locks, and the first statement's
	// read stays true until the commit.
	if p.begin, err = prep("BEGIN IMMEDIATE"); err != nil {
		return nil, err
	}
	if p.commit, err = prep("COMMIT"); err != nil {
		return nil, err
	}
	if p.rollback, err = prep("ROLLBACK"); err != nil {
		return nil, err
	}
	return p, nil
}

// take waits for the connection's turn, or for ctx to be done.
func (p *pool) take(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		p.give()
		return err
	}
	return nil
}

// written ends a call that may have written: it runs the backstop, then
// gives the turn back. Reads (QueryRow) skip the backstop's stat; the one
// single-statement write that goes through QueryRow (RecordFailure's upsert …
// RETURNING) is caught by the next Exec or transaction.
func (p *pool) written() {
	p.backstop()
	p.give()
}

// backstop runs a RESTART checkpoint on the request connection, in its
// turn, when the WAL file has passed walMax: the background checkpointer
// fell behind (checkpoint.go). RESTART waits (busy_timeout) for a checkpoint
// in progress elsewhere and for readers of the WAL in other processes, so
// that the next write starts the WAL again, whatever the timing; the file
// is cut back to journal_size_limit at that write. A checkpoint that could
// not finish (busy) is tried again once the WAL has grown by walMax more.
func (p *pool) backstop() {
	if p.walMax == 0 {
		return
	}
	st, err := os.Stat(p.walPath)
	if err != nil || st.Size() <= p.walNext {
		return
	}
	var busy, log, copied int
	p.checkpointing.Lock()
	err = p.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &log, &copied)
	p.checkpointing.Unlock()
	if err != nil || busy != 0 {
		p.walNext = st.Size() + p.walMax
		p.log.Warn("sqlite: the WAL passed its bound and a checkpoint could not finish; retried after more growth",
			"wal_bytes", st.Size(), "busy", busy != 0, "err", err)
		return
	}
	p.walNext = p.walMax
}

// give hands the turn back and nudges the checkpointer, without waiting:
// one nudge pending is enough. Reads nudge it too; a checkpoint with nothing
// to copy costs a few microseconds on the checkpointer's connection.
func (p *pool) give() {
	<-p.turn
	select {
	case p.wrote <- struct{}{}:
	default:
	}
}

// run is the context the statements run on: never done (see pool).
func run(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func (p *pool) Exec(ctx context.Context, q sqlstore.Query, args ...any) (int64, error) {
	if err := p.take(ctx); err != nil {
		return 0, err
	}
	defer p.written()
	return rowsAffected(p.stmts[q].ExecContext(run(ctx), args...))
}

// QueryRow holds the connection's turn until the row is scanned: every
// caller scans the row it asked for at once.
func (p *pool) QueryRow(ctx context.Context, q sqlstore.Query, args ...any) sqlstore.Row {
	if err := p.take(ctx); err != nil {
		return errRow{err}
	}
	return turnRow{p.stmts[q].QueryRowContext(run(ctx), args...), p}
}

type turnRow struct {
	row *sql.Row
	p   *pool
}

func (r turnRow) Scan(dest ...any) error {
	defer r.p.give()
	return r.row.Scan(dest...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// InTx runs fn in a transaction that holds the connection's turn and
// SQLite's write lock from BEGIN IMMEDIATE to COMMIT: of concurrent
// transactions, in this process or another sharing the file, one runs at a
// time, so the first statement's read stays true until the commit.
func (p *pool) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	if err := p.take(ctx); err != nil {
		return err
	}
	defer p.written()
	ctx = run(ctx)
	if _, err := p.begin.ExecContext(ctx); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		// Whatever ends fn without a commit — an error, a failed COMMIT
		// (SQLITE_BUSY), or a panic that net/http will recover — must not
		// leave the transaction open on the one connection: every later
		// write would run inside it and never commit. An error SQLite rolled
		// back itself leaves none, and the ROLLBACK then fails with "no
		// transaction is active", which is harmless.
		if !committed {
			p.rollback.ExecContext(ctx) //nolint:errcheck // the first error is the one to report
		}
	}()
	if err := fn(inTx{p.stmts}); err != nil {
		return err
	}
	if _, err := p.commit.ExecContext(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}

// inTx runs the prepared statements inside InTx, which holds the turn.
type inTx struct{ stmts []*sql.Stmt }

func (t inTx) Exec(ctx context.Context, q sqlstore.Query, args ...any) (int64, error) {
	return rowsAffected(t.stmts[q].ExecContext(run(ctx), args...))
}

func (t inTx) QueryRow(ctx context.Context, q sqlstore.Query, args ...any) sqlstore.Row {
	return t.stmts[q].QueryRowContext(run(ctx), args...)
}

// ping checks that the connection answers, in its turn, so that a ping
// that answers also says that the database is not stuck.
func (p *pool) ping(ctx context.Context) error {
	if err := p.take(ctx); err != nil {
		return err
	}
	defer p.give()
	return p.conn.PingContext(ctx)
}

// close waits for the call in progress, then closes the statements, the
// connection and the database. It hands the turn back: a call made after it
// fails with database/sql's "closed" error instead of waiting forever.
func (p *pool) close() error {
	p.turn <- struct{}{}
	defer p.give()
	return p.closeAll()
}

// closeAll closes the statements prepared so far, then the connection and
// the database. The statements first, by hand: database/sql does not track
// those prepared on a sql.Conn, so closing the database leaves them open,
// and SQLite keeps a connection with open statements alive after its close
// (sqlite3_close_v2) — its file descriptors and, under an exclusive lock,
// the lock.
func (p *pool) closeAll() error {
	var errs []error
	for _, st := range append(p.stmts, p.begin, p.commit, p.rollback) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, p.conn.Close(), p.db.Close())...)
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
