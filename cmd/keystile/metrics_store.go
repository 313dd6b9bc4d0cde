package main

import (
	"context"
	"errors"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/keystile/keystile/store"
)

// measuredStore times every call to the store it wraps and counts its
// failures.
type measuredStore struct {
	sharedStore
	m *metrics
}

// done records one call that started at start and ended with err.
func (s measuredStore) done(op string, start time.Time, err error) {
	s.m.storeSeries.get(op, func() *vm.PrometheusHistogram {
		return s.m.storeCalls.histogram("operation", op)
	}).Update(time.Since(start).Seconds())
	// The store's sentinels are answers (not found, taken, reused,
	// expired), not failures.
	for _, answer := range []error{store.ErrNotFound, store.ErrDuplicate, store.ErrReused, store.ErrExpired} {
		if errors.Is(err, answer) {
			return
		}
	}
	if err != nil {
		s.m.storeErrors.counter("operation", op).Inc()
	}
}

func (s measuredStore) CreateCode(ctx context.Context, c store.AuthCode) (err error) {
	defer func(t time.Time) { s.done("create_code", t, err) }(time.Now())
	return s.sharedStore.CreateCode(ctx, c)
}

// RedeemCode counts an error issue returned (a code that failed the
// caller's checks) as an answer, not as a failure of the store.
func (s measuredStore) RedeemCode(ctx context.Context, hash []byte, now time.Time, issue func(store.AuthCode) (*store.RefreshToken, error)) (store.AuthCode, error) {
	var refused error
	start := time.Now()
	c, err := s.sharedStore.RedeemCode(ctx, hash, now, func(c store.AuthCode) (*store.RefreshToken, error) {
		t, err := issue(c)
		refused = err
		return t, err
	})
	failure := err
	if refused != nil && errors.Is(err, refused) {
		failure = nil
	}
	s.done("redeem_code", start, failure)
	return c, err
}

func (s measuredStore) CreateSession(ctx context.Context, ss store.Session) (err error) {
	defer func(t time.Time) { s.done("create_session", t, err) }(time.Now())
	return s.sharedStore.CreateSession(ctx, ss)
}

func (s measuredStore) GetSession(ctx context.Context, idHash []byte, now time.Time) (ss store.Session, err error) {
	defer func(t time.Time) { s.done("get_session", t, err) }(time.Now())
	return s.sharedStore.GetSession(ctx, idHash, now)
}

func (s measuredStore) EndSession(ctx context.Context, idHash []byte, revokeTokens bool) (err error) {
	defer func(t time.Time) { s.done("end_session", t, err) }(time.Now())
	return s.sharedStore.EndSession(ctx, idHash, revokeTokens)
}

func (s measuredStore) CompleteSignIn(ctx context.Context, in store.SignIn, now time.Time) (err error) {
	defer func(t time.Time) { s.done("complete_sign_in", t, err) }(time.Now())
	return s.sharedStore.CompleteSignIn(ctx, in, now)
}

func (s measuredStore) RenewSession(ctx context.Context, oldIDHash []byte, next store.Session, now time.Time) (err error) {
	defer func(t time.Time) { s.done("renew_session", t, err) }(time.Now())
	return s.sharedStore.RenewSession(ctx, oldIDHash, next, now)
}

func (s measuredStore) CreateRefreshToken(ctx context.Context, rt store.RefreshToken) (err error) {
	defer func(t time.Time) { s.done("create_refresh_token", t, err) }(time.Now())
	return s.sharedStore.CreateRefreshToken(ctx, rt)
}

func (s measuredStore) GetRefreshToken(ctx context.Context, hash []byte, now time.Time) (rt store.RefreshToken, err error) {
	defer func(t time.Time) { s.done("get_refresh_token", t, err) }(time.Now())
	return s.sharedStore.GetRefreshToken(ctx, hash, now)
}

func (s measuredStore) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken, now time.Time) (err error) {
	defer func(t time.Time) { s.done("rotate_refresh_token", t, err) }(time.Now())
	return s.sharedStore.RotateRefreshToken(ctx, oldHash, next, now)
}

func (s measuredStore) RevokeFamily(ctx context.Context, familyID string) (err error) {
	defer func(t time.Time) { s.done("revoke_family", t, err) }(time.Now())
	return s.sharedStore.RevokeFamily(ctx, familyID)
}

func (s measuredStore) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) (err error) {
	defer func(t time.Time) { s.done("revoke_access_token", t, err) }(time.Now())
	return s.sharedStore.RevokeAccessToken(ctx, jti, expiresAt)
}

func (s measuredStore) AccessTokenRevoked(ctx context.Context, jti string) (revoked bool, err error) {
	defer func(t time.Time) { s.done("access_token_revoked", t, err) }(time.Now())
	return s.sharedStore.AccessTokenRevoked(ctx, jti)
}

func (s measuredStore) DeleteExpired(ctx context.Context, now time.Time) (n int64, err error) {
	defer func(t time.Time) { s.done("delete_expired", t, err) }(time.Now())
	return s.sharedStore.DeleteExpired(ctx, now)
}

func (s measuredStore) Ping(ctx context.Context) (err error) {
	defer func(t time.Time) { s.done("ping", t, err) }(time.Now())
	return s.sharedStore.Ping(ctx)
}

func (s measuredStore) ListSigningKeys(ctx context.Context) (keys []store.StoredKey, err error) {
	defer func(t time.Time) { s.done("list_signing_keys", t, err) }(time.Now())
	return s.sharedStore.ListSigningKeys(ctx)
}

func (s measuredStore) AddSigningKey(ctx context.Context, k store.StoredKey) (err error) {
	defer func(t time.Time) { s.done("add_signing_key", t, err) }(time.Now())
	return s.sharedStore.AddSigningKey(ctx, k)
}

func (s measuredStore) DeleteSigningKeys(ctx context.Context, below int64) (n int64, err error) {
	defer func(t time.Time) { s.done("delete_signing_keys", t, err) }(time.Now())
	return s.sharedStore.DeleteSigningKeys(ctx, below)
}

func (s measuredStore) CreateDeviceCode(ctx context.Context, d store.DeviceCode) (err error) {
	defer func(t time.Time) { s.done("create_device_code", t, err) }(time.Now())
	return s.sharedStore.CreateDeviceCode(ctx, d)
}

func (s measuredStore) PendingDeviceCode(ctx context.Context, userCodeHash []byte, now time.Time) (d store.DeviceCode, err error) {
	defer func(t time.Time) { s.done("pending_device_code", t, err) }(time.Now())
	return s.sharedStore.PendingDeviceCode(ctx, userCodeHash, now)
}

func (s measuredStore) DecideDeviceCode(ctx context.Context, userCodeHash []byte, d store.DeviceDecision, now time.Time) (err error) {
	defer func(t time.Time) { s.done("decide_device_code", t, err) }(time.Now())
	return s.sharedStore.DecideDeviceCode(ctx, userCodeHash, d, now)
}

func (s measuredStore) PollDeviceCode(ctx context.Context, hash []byte, clientID string, now time.Time) (d store.DeviceCode, err error) {
	defer func(t time.Time) { s.done("poll_device_code", t, err) }(time.Now())
	return s.sharedStore.PollDeviceCode(ctx, hash, clientID, now)
}
