package store

import (
	"context"
	"errors"
	"time"
)

// ErrExpired is returned by PollDeviceCode for a device code that exists
// but is past its ExpiresAt (RFC 8628 §3.5 expired_token), until
// DeleteExpired removes it.
var ErrExpired = errors.New("store: expired")

// DeviceStatus is where a device authorization stands.
type DeviceStatus string

// The statuses of a device authorization: it starts pending, and the user
// decides it once.
const (
	DevicePending  DeviceStatus = ""
	DeviceApproved DeviceStatus = "approved"
	DeviceDenied   DeviceStatus = "denied"
)

// DeviceCode is a device authorization (RFC 8628 §3.2): the device polls
// with the device code while the user enters the user code in a browser.
// Both codes are stored only as SHA-256 hashes.
type DeviceCode struct {
	Hash         []byte // SHA-256 of the device_code
	UserCodeHash []byte // SHA-256 of the normalised user_code
	ClientID     string
	Scope        []string
	// Resources are the RFC 8707 resources granted: the one the device
	// authorization named, or every one the client may use.
	Resources []string
	ExpiresAt time.Time
	// Interval is the least time between two polls (RFC 8628 §3.5); kept
	// to the second.
	Interval time.Duration
	// LastPolledAt is zero until the first poll.
	LastPolledAt time.Time
	// The user's decision, and for an approval who approved, with what
	// claims and when they signed in.
	Status   DeviceStatus
	Subject  string
	Claims   map[string]any
	AuthTime time.Time
}

// DeviceDecision is what the user decides for a pending device code.
type DeviceDecision struct {
	Status   DeviceStatus // DeviceApproved or DeviceDenied
	Subject  string
	Claims   map[string]any
	AuthTime time.Time
}

// DeviceCodes holds device authorizations.
type DeviceCodes interface {
	// CreateDeviceCode stores d, pending and never polled whatever its
	// Status and LastPolledAt say; ErrDuplicate if d.Hash or d.UserCodeHash
	// is taken.
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	// PendingDeviceCode returns the pending code whose user code hashes to
	// userCodeHash; ErrNotFound if it is missing, decided, or expired at now.
	PendingDeviceCode(ctx context.Context, userCodeHash []byte, now time.Time) (DeviceCode, error)
	// DecideDeviceCode records the user's decision in one atomic step: of
	// two concurrent decisions, exactly one is recorded. ErrNotFound if the
	// code is missing, already decided, or expired at now.
	DecideDeviceCode(ctx context.Context, userCodeHash []byte, d DeviceDecision, now time.Time) error
	// PollDeviceCode records a poll at now and returns the code as it was
	// before the poll, in one atomic step. A poll that comes less than
	// Interval after the previous one makes the stored Interval five
	// seconds longer (RFC 8628 §3.5 slow_down); the caller sees that from
	// the returned LastPolledAt. A decided code is consumed by the poll that
	// returns it: of concurrent polls exactly one sees the decision, and
	// every later poll gets ErrNotFound. ErrNotFound if the code is
	// missing or was issued to another client than clientID (nothing is
	// recorded: another client's poll neither consumes the code nor counts
	// as the device's poll); ErrExpired if it is expired at now (nothing
	// is recorded).
	PollDeviceCode(ctx context.Context, hash []byte, clientID string, now time.Time) (DeviceCode, error)
}

// SlowDownStep is how much longer the interval grows when a device polls
// too fast (RFC 8628 §3.5).
const SlowDownStep = 5 * time.Second

// PolledTooSoon reports whether a poll at now comes less than Interval after
// the previous one (RFC 8628 §3.5 slow_down), at the store's millisecond
// resolution. Every backend and the token endpoint judge it by this rule.
func (d DeviceCode) PolledTooSoon(now time.Time) bool {
	return !d.LastPolledAt.IsZero() && now.Truncate(time.Millisecond).Sub(d.LastPolledAt) < d.Interval
}
