package memory

import (
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// deviceEntry is a stored device code, with its claims kept as JSON as
// codeEntry keeps them. Entries are replaced, never changed in place.
type deviceEntry struct {
	code   store.DeviceCode
	claims []byte
}

func (e deviceEntry) value() (store.DeviceCode, error) {
	d := e.code
	d.Hash, d.UserCodeHash, d.Scope, d.Resources = cloneBytes(d.Hash), cloneBytes(d.UserCodeHash), cloneStrings(d.Scope), cloneStrings(d.Resources)
	var err error
	d.Claims, err = decodeClaims(e.claims)
	return d, err
}

// CreateDeviceCode implements [store.DeviceCodes].
func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(d.Hash) == 0 || len(d.UserCodeHash) == 0 {
		return errEmptyKey
	}
	d = store.DeviceCode{
		Hash: cloneBytes(d.Hash), UserCodeHash: cloneBytes(d.UserCodeHash), ClientID: d.ClientID,
		Scope: cloneStrings(d.Scope), Resources: cloneStrings(d.Resources), ExpiresAt: normTime(d.ExpiresAt), Interval: d.Interval.Truncate(time.Second),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.devices[string(d.Hash)]; ok {
		return store.ErrDuplicate
	}
	if _, ok := s.userCodes[string(d.UserCodeHash)]; ok {
		return store.ErrDuplicate
	}
	s.devices[string(d.Hash)] = deviceEntry{code: d, claims: []byte("null")}
	s.userCodes[string(d.UserCodeHash)] = string(d.Hash)
	return nil
}

// pendingDevice returns the live, pending entry of a user code. The caller
// holds the lock.
func (s *Store) pendingDevice(userCodeHash []byte, now time.Time) (deviceEntry, bool) {
	e, ok := s.devices[s.userCodes[string(userCodeHash)]]
	return e, ok && e.code.Status == store.DevicePending && live(e.code.ExpiresAt, now)
}

// PendingDeviceCode implements [store.DeviceCodes].
func (s *Store) PendingDeviceCode(ctx context.Context, userCodeHash []byte, now time.Time) (store.DeviceCode, error) {
	if err := ctx.Err(); err != nil {
		return store.DeviceCode{}, err
	}
	s.mu.Lock()
	e, ok := s.pendingDevice(userCodeHash, now)
	s.mu.Unlock()
	if !ok {
		return store.DeviceCode{}, store.ErrNotFound
	}
	return e.value()
}

// DecideDeviceCode implements [store.DeviceCodes]: the check and the
// update happen under one lock.
func (s *Store) DecideDeviceCode(ctx context.Context, userCodeHash []byte, d store.DeviceDecision, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	claims, err := encodeClaims(d.Claims)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.pendingDevice(userCodeHash, now)
	if !ok {
		return store.ErrNotFound
	}
	e.code.Status, e.code.Subject, e.code.AuthTime = d.Status, d.Subject, normTime(d.AuthTime)
	e.claims = claims
	s.devices[string(e.code.Hash)] = e
	return nil
}

// PollDeviceCode implements [store.DeviceCodes]: the read, the client
// check, the poll's record and the consumption of a decided code happen
// under one lock.
func (s *Store) PollDeviceCode(ctx context.Context, hash []byte, clientID string, now time.Time) (store.DeviceCode, error) {
	if err := ctx.Err(); err != nil {
		return store.DeviceCode{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.devices[string(hash)]
	switch {
	case !ok || e.code.ClientID != clientID:
		return store.DeviceCode{}, store.ErrNotFound
	case !live(e.code.ExpiresAt, now):
		return store.DeviceCode{}, store.ErrExpired
	}
	before, err := e.value()
	if err != nil {
		return store.DeviceCode{}, err
	}
	if e.code.Status != store.DevicePending {
		s.deleteDevice(e.code)
		return before, nil
	}
	next := e.code
	next.LastPolledAt = normTime(now)
	if e.code.PolledTooSoon(now) {
		next.Interval += store.SlowDownStep
	}
	s.devices[string(hash)] = deviceEntry{code: next, claims: e.claims}
	return before, nil
}

func (s *Store) deleteDevice(d store.DeviceCode) {
	delete(s.devices, string(d.Hash))
	delete(s.userCodes, string(d.UserCodeHash))
}
