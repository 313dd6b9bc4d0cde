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

// useRequest records idHash used with q; ErrReused if it is live.
func (s *Store) useRequest(ctx context.Context, q Querier, idHash []byte, expiresAt, now time.Time) error {
	if len(idHash) == 0 {
		return errEmptyKey
	}
	n, err := q.Exec(ctx, useRequest, idHash, s.timeArg(expiresAt), s.timeArg(now))
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrReused
	}
	return nil
}
