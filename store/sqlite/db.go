package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keystile/keystile/store/internal/sqlstore"
)

// pool runs the shared store's statements on a database/sql pool, each as a
// statement prepared once at Open: parsing a statement costs more than
// running it (two thirds of a create-and-consume was spent in
// sqlite3_prepare before statements were prepared), and preparing eagerly
// means a typo in any query fails Open, hence every test, rather than one
// request in production. The pool has one connection (see Open), so each is
// prepared exactly once.
type pool struct {
	db    *sql.DB
	stmts []*sql.Stmt // indexed by sqlstore.Query
}

var _ sqlstore.DB = (*pool)(nil)

// prepare prepares every statement of the dialect on db.
func prepare(ctx context.Context, db *sql.DB) (*pool, error) {
	texts := dialect.Render()
	p := &pool{db: db, stmts: make([]*sql.Stmt, len(texts))}
	for q, text := range texts {
		st, err := db.PrepareContext(ctx, text)
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", text, err)
		}
		p.stmts[q] = st
	}
	return p, nil
}

func (p *pool) Exec(ctx context.Context, q sqlstore.Query, args ...any) (int64, error) {
	return rowsAffected(p.stmts[q].ExecContext(ctx, args...))
}

func (p *pool) QueryRow(ctx context.Context, q sqlstore.Query, args ...any) sqlstore.Row {
	return p.stmts[q].QueryRowContext(ctx, args...)
}

// InTx runs fn in a transaction, which takes the write lock at BEGIN
// (_txlock=immediate): of concurrent transactions, in this process or
// another sharing the file, one runs at a time, so the first statement's
// read stays true until the commit.
func (p *pool) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// After a Commit, Rollback does nothing.
	defer tx.Rollback()
	if err := fn(inTx{tx, p.stmts}); err != nil {
		return err
	}
	return tx.Commit()
}

// inTx runs the prepared statements inside tx. Code inside a transaction
// must use only tx: a call on the pool there would wait for the connection
// the transaction itself holds, forever.
type inTx struct {
	tx    *sql.Tx
	stmts []*sql.Stmt
}

func (t inTx) Exec(ctx context.Context, q sqlstore.Query, args ...any) (int64, error) {
	return rowsAffected(t.tx.StmtContext(ctx, t.stmts[q]).ExecContext(ctx, args...))
}

func (t inTx) QueryRow(ctx context.Context, q sqlstore.Query, args ...any) sqlstore.Row {
	return t.tx.StmtContext(ctx, t.stmts[q]).QueryRowContext(ctx, args...)
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
