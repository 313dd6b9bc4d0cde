package postgres

import (
	"context"

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
func (p pgxDB) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		return fn(pgxQuerier{tx})
	})
}
