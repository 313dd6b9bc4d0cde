package main

import (
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// measuredThrottles is a measuredStore whose backend keeps throttles. The
// server shares its login throttle through the store when the store has
// the methods (store.Throttles), so only such a backend's wrapper may have
// them: a memory store keeps the throttle in the server.
type measuredThrottles struct {
	measuredStore
	th store.Throttles
}

// measure wraps opened so that its calls are timed and counted in m.
// The deny-list feed (store.RevocationFeed) passes through untimed: it is
// one call for the life of the server, not a call per request.
func measure(opened sharedStore, m *metrics) sharedStore {
	st := measuredStore{sharedStore: opened, m: m}
	th, throttles := opened.(store.Throttles)
	feed, follows := opened.(store.RevocationFeed)
	switch {
	case throttles && follows:
		return struct {
			measuredThrottles
			store.RevocationFeed
		}{measuredThrottles{measuredStore: st, th: th}, feed}
	case throttles:
		return measuredThrottles{measuredStore: st, th: th}
	case follows:
		return struct {
			measuredStore
			store.RevocationFeed
		}{st, feed}
	}
	return st
}

func (s measuredThrottles) RecordFailure(ctx context.Context, keyHash []byte, now, windowEnd time.Time) (f store.Failures, err error) {
	defer func(t time.Time) { s.done("record_failure", t, err) }(time.Now())
	return s.th.RecordFailure(ctx, keyHash, now, windowEnd)
}

func (s measuredThrottles) ClearStreak(ctx context.Context, keyHash []byte) (err error) {
	defer func(t time.Time) { s.done("clear_streak", t, err) }(time.Now())
	return s.th.ClearStreak(ctx, keyHash)
}

func (s measuredThrottles) FailuresOf(ctx context.Context, keyHash []byte, now time.Time) (f store.Failures, err error) {
	defer func(t time.Time) { s.done("failures_of", t, err) }(time.Now())
	return s.th.FailuresOf(ctx, keyHash, now)
}
