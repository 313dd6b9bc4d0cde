package sqlstore

import (
	"context"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

// deviceColumns are what every device-code read returns, in scanDevice's
// order.
const deviceColumns = `hash, user_code_hash, client_id, scope, expires_at, interval_s,
	last_polled_at, status, subject, claims, auth_time, resources`

const (
	// No conflict target: a taken hash or a taken user code is a duplicate.
	createDeviceSQL = `INSERT INTO device_codes (hash, user_code_hash, client_id, scope, expires_at,
		interval_s, last_polled_at, auth_time, resources) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`
	pendingDeviceSQL = `SELECT ` + deviceColumns + ` FROM device_codes
		WHERE user_code_hash = $1 AND status = '' AND expires_at > $2`
	// One statement checks and decides: of two decisions one updates the
	// row, the other then finds it decided.
	decideDeviceSQL = `UPDATE device_codes SET status = $1, subject = $2, claims = $3, auth_time = $4
		WHERE user_code_hash = $5 AND status = '' AND expires_at > $6`
	// PollDeviceCode's first statement: with row locks it locks the row, so
	// that a concurrent poll waits for this one's record or deletion.
	lockDeviceSQL   = `SELECT ` + deviceColumns + ` FROM device_codes WHERE hash = $1`
	recordPollSQL   = `UPDATE device_codes SET last_polled_at = $1, interval_s = $2 WHERE hash = $3`
	deleteDeviceSQL = `DELETE FROM device_codes WHERE hash = $1`
)

// CreateDeviceCode implements [store.DeviceCodes].
func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	const op = "create device code"
	if len(d.Hash) == 0 || len(d.UserCodeHash) == 0 {
		return s.fail(op, errEmptyKey)
	}
	scope, err := encodeJSON("scope", d.Scope)
	if err != nil {
		return s.fail(op, err)
	}
	resources, err := encodeJSON("resources", d.Resources)
	if err != nil {
		return s.fail(op, err)
	}
	zero := s.timeArg(time.Time{})
	n, err := s.db.Exec(ctx, createDevice, d.Hash, d.UserCodeHash, d.ClientID, scope,
		s.timeArg(d.ExpiresAt), int64(d.Interval/time.Second), zero, zero, resources)
	if err == nil {
		err = inserted(n)
	}
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// PendingDeviceCode implements [store.DeviceCodes].
func (s *Store) PendingDeviceCode(ctx context.Context, userCodeHash []byte, now time.Time) (store.DeviceCode, error) {
	const op = "pending device code"
	d, err := s.scanDevice(s.db.QueryRow(ctx, pendingDevice, userCodeHash, s.timeArg(now)))
	if isNoRows(err) {
		return store.DeviceCode{}, s.fail(op, store.ErrNotFound)
	}
	if err != nil {
		return store.DeviceCode{}, s.fail(op, err)
	}
	return d, nil
}

// DecideDeviceCode implements [store.DeviceCodes] with one UPDATE.
func (s *Store) DecideDeviceCode(ctx context.Context, userCodeHash []byte, d store.DeviceDecision, now time.Time) error {
	const op = "decide device code"
	claims, err := encodeJSON("claims", d.Claims)
	if err != nil {
		return s.fail(op, err)
	}
	n, err := s.db.Exec(ctx, decideDevice, string(d.Status), d.Subject, claims, s.timeArg(d.AuthTime),
		userCodeHash, s.timeArg(now))
	if err != nil {
		return s.fail(op, err)
	}
	if n == 0 {
		return s.fail(op, store.ErrNotFound)
	}
	return nil
}

// PollDeviceCode implements [store.DeviceCodes] in one transaction that
// locks the row before it reads it (or holds the database's write lock):
// of concurrent polls of a decided code, exactly one reads it, and deletes
// it. Another client's poll writes nothing.
func (s *Store) PollDeviceCode(ctx context.Context, hash []byte, clientID string, now time.Time) (store.DeviceCode, error) {
	const op = "poll device code"
	var before store.DeviceCode
	err := s.db.InTx(ctx, func(tx Querier) error {
		var err error
		before, err = s.scanDevice(tx.QueryRow(ctx, lockDevice, hash))
		switch {
		case isNoRows(err):
			return store.ErrNotFound
		case err != nil:
			return err
		case before.ClientID != clientID:
			return store.ErrNotFound
		case before.ExpiresAt.UnixMilli() <= now.UnixMilli():
			return store.ErrExpired
		case before.Status != store.DevicePending:
			_, err = tx.Exec(ctx, deleteDevice, hash)
			return err
		}
		interval := before.Interval
		if before.PolledTooSoon(now) {
			interval += store.SlowDownStep
		}
		_, err = tx.Exec(ctx, recordPoll, s.timeArg(now), int64(interval/time.Second), hash)
		return err
	})
	if err != nil {
		return store.DeviceCode{}, s.fail(op, err)
	}
	return before, nil
}

func (s *Store) scanDevice(row Row) (store.DeviceCode, error) {
	var d store.DeviceCode
	var scope, claims, resources []byte
	var interval int64
	var status string
	err := row.Scan(&d.Hash, &d.UserCodeHash, &d.ClientID, &scope, timeDest(&d.ExpiresAt), &interval,
		timeDest(&d.LastPolledAt), &status, &d.Subject, &claims, timeDest(&d.AuthTime), &resources)
	if err != nil {
		return store.DeviceCode{}, err
	}
	d.Hash, d.UserCodeHash = slices.Clone(d.Hash), slices.Clone(d.UserCodeHash)
	d.Interval, d.Status = time.Duration(interval)*time.Second, store.DeviceStatus(status)
	if err := decodeJSON("scope", scope, &d.Scope); err != nil {
		return store.DeviceCode{}, err
	}
	if err := decodeJSON("claims", claims, &d.Claims); err != nil {
		return store.DeviceCode{}, err
	}
	if err := decodeJSON("resources", resources, &d.Resources); err != nil {
		return store.DeviceCode{}, err
	}
	return d, nil
}
