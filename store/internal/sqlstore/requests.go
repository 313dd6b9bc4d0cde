package sqlstore

import (
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// useRequestSQL records a used request id in one statement: a new id is
// inserted; an id whose record has expired (expires_at not after now) is
// taken over; a live one is left alone, and no row changes. Of concurrent
// uses, one inserts and the others wait for its row, then find it live.
const useRequestSQL = `INSERT INTO used_requests (id_hash, expires_at) VALUES ($1, $2)
	ON CONFLICT (id_hash) DO UPDATE SET expires_at = excluded.expires_at
	WHERE used_requests.expires_at <= $3`

// UseRequest implements [store.UsedRequests].
func (s *Store) UseRequest(ctx context.Context, idHash []byte, expiresAt, now time.Time) error {
	const op = "use request"
	if len(idHash) == 0 {
		return s.fail(op, errEmptyKey)
	}
	n, err := s.db.Exec(ctx, useRequest, idHash, s.timeArg(expiresAt), s.timeArg(now))
	if err != nil {
		return s.fail(op, err)
	}
	if n == 0 {
		return s.fail(op, store.ErrReused)
	}
	return nil
}
