package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// DeleteExpired's statements, each given now. Refresh tokens go before
// families, so that the count includes the tokens a family's cascade would
// otherwise delete unseen. A token goes when it or its family expires or
// its family is revoked; a family itself stays until its own expiry even
// when revoked, so that a token created in it later (the winner of a
// code-replay race, still on its way) is born revoked.
const (
	deleteExpiredUsedRequestsSQL  = `DELETE FROM used_requests WHERE expires_at <= $1`
	deleteExpiredCodesSQL         = `DELETE FROM auth_codes WHERE expires_at <= $1`
	deleteExpiredSessionsSQL      = `DELETE FROM sessions WHERE expires_at <= $1`
	deleteExpiredRefreshTokensSQL = `DELETE FROM refresh_tokens WHERE expires_at <= $1 OR family_id IN
		(SELECT id FROM refresh_families WHERE revoked OR expires_at <= $2)`
	deleteExpiredFamiliesSQL    = `DELETE FROM refresh_families WHERE expires_at <= $1`
	deleteExpiredRevocationsSQL = `DELETE FROM revoked_access_tokens WHERE expires_at <= $1`
	deleteExpiredDevicesSQL     = `DELETE FROM device_codes WHERE expires_at <= $1`
)

// deleteExpired is the order DeleteExpired runs its statements in, and how
// many times each takes now.
var deleteExpired = []struct {
	what string
	q    Query
	nows int
}{
	{"used requests", deleteExpiredUsedRequests, 1},
	{"codes", deleteExpiredCodes, 1},
	{"sessions", deleteExpiredSessions, 1},
	{"refresh tokens", deleteExpiredRefreshTokens, 2},
	{"refresh families", deleteExpiredFamilies, 1},
	{"revoked access tokens", deleteExpiredRevocations, 1},
	{"device codes", deleteExpiredDevices, 1},
	{"throttle failures", deleteExpiredThrottles, 1},
}

// DeleteExpired implements [store.Store]. Every table is cleaned in one
// transaction, so the count is the number of rows that really went.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	at := s.timeArg(now)
	nows := []any{at, at}
	err := s.db.InTx(ctx, func(tx Querier) error {
		for _, d := range deleteExpired {
			m, err := tx.Exec(ctx, d.q, nows[:d.nows]...)
			if err != nil {
				return fmt.Errorf("%s: %w", d.what, err)
			}
			n += m
		}
		return nil
	})
	if err != nil {
		return 0, s.fail("delete expired", err)
	}
	return n, nil
}
