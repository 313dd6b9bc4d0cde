package sqlstore

import (
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// The throttles' statements. A failure is one upsert that reads the row it
// changes, so concurrent failures from any replica serialize on the row and
// none is lost; a window that has ended (window_end not after now, the
// store's expiry rule) starts afresh. Every right-hand side of the SET sees
// the old row, in both databases; excluded carries now and the new window's
// end, so each argument is bound once, in order.
const (
	recordFailureSQL = `INSERT INTO throttle_failures (key_hash, failures, streak, last_at, window_end)
		VALUES ($1, 1, 1, $2, $3)
		ON CONFLICT (key_hash) DO UPDATE SET
			failures = CASE WHEN throttle_failures.window_end > excluded.last_at
				THEN throttle_failures.failures + 1 ELSE 1 END,
			streak = CASE WHEN throttle_failures.window_end > excluded.last_at
				THEN throttle_failures.streak + 1 ELSE 1 END,
			window_end = CASE WHEN throttle_failures.window_end > excluded.last_at
				THEN throttle_failures.window_end ELSE excluded.window_end END,
			last_at = excluded.last_at
		RETURNING failures, streak, last_at, window_end`
	clearStreakSQL = `UPDATE throttle_failures SET streak = 0 WHERE key_hash = $1 AND streak > 0`
	failuresOfSQL  = `SELECT failures, streak, last_at, window_end FROM throttle_failures
		WHERE key_hash = $1 AND window_end > $2`
	deleteExpiredThrottlesSQL = `DELETE FROM throttle_failures WHERE window_end <= $1`
)

// RecordFailure implements [store.Throttles].
func (s *Store) RecordFailure(ctx context.Context, keyHash []byte, now, windowEnd time.Time) (store.Failures, error) {
	const op = "record failure"
	var f store.Failures
	if len(keyHash) == 0 {
		return f, s.fail(op, errEmptyKey)
	}
	err := s.db.QueryRow(ctx, recordFailure, keyHash, s.timeArg(now), s.timeArg(windowEnd)).
		Scan(&f.Count, &f.Streak, timeDest(&f.Last), timeDest(&f.WindowEnd))
	if err != nil {
		return store.Failures{}, s.fail(op, err)
	}
	return f, nil
}

// ClearStreak implements [store.Throttles].
func (s *Store) ClearStreak(ctx context.Context, keyHash []byte) error {
	if _, err := s.db.Exec(ctx, clearStreak, keyHash); err != nil {
		return s.fail("clear streak", err)
	}
	return nil
}

// FailuresOf implements [store.Throttles].
func (s *Store) FailuresOf(ctx context.Context, keyHash []byte, now time.Time) (store.Failures, error) {
	var f store.Failures
	err := s.db.QueryRow(ctx, failuresOf, keyHash, s.timeArg(now)).
		Scan(&f.Count, &f.Streak, timeDest(&f.Last), timeDest(&f.WindowEnd))
	switch {
	case isNoRows(err):
		return store.Failures{}, nil
	case err != nil:
		return store.Failures{}, s.fail("failures of", err)
	}
	return f, nil
}
