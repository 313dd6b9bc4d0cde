package postgres

import (
	"errors"
	"testing"
	"time"

	"github.com/keystile/keystile/store/internal/sqlstore"
)

// A transaction whose last statement went out with its COMMIT refuses any
// statement after it, rather than running it outside the transaction or
// beginning another behind the caller's back.
func TestStatementAfterCommitFails(t *testing.T) {
	s, _ := openCounted(t)
	db := pgxDB{pgxQuerier{s.pool}, s.pool}
	ctx := t.Context()
	now := time.Now()
	// Query 0 is the used request's upsert: id, expiry, now.
	const q = sqlstore.Query(0)
	err := db.InTx(ctx, func(tx sqlstore.Querier) error {
		if _, err := tx.(sqlstore.LastExecer).ExecLast(ctx, q, []byte("after commit 1"), now.Add(time.Minute), now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q, []byte("after commit 2"), now.Add(time.Minute), now); !errors.Is(err, errAfterCommit) {
			t.Errorf("Exec after the last statement: %v, want errAfterCommit", err)
		}
		var one int
		if err := tx.QueryRow(ctx, q, []byte("after commit 3"), now.Add(time.Minute), now).Scan(&one); !errors.Is(err, errAfterCommit) {
			t.Errorf("QueryRow after the last statement: %v, want errAfterCommit", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM used_requests WHERE id_hash IN ($1, $2, $3)`,
		[]byte("after commit 1"), []byte("after commit 2"), []byte("after commit 3")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d rows stored, want the last statement's 1", n)
	}
}
