// Package store defines the persistence Keystile needs: pending authorization
// requests and authorization codes. Backends live in subpackages (memory,
// sqlite) and all pass the conformance suite in storetest.
//
// Records are plain values: a backend never hands out a pointer into its own
// state, and secrets (codes, request ids, browser bindings) are stored only as
// SHA-256 hashes, so a leaked database does not leak a usable credential.
//
// Time is always passed in as now, so that expiry is testable without sleeping
// and every replica that shares one database judges it the same way.
//
// Every backend keeps the same value contract, which storetest checks:
//   - Times are kept to the millisecond: a record comes back with its times
//     truncated to the millisecond (as [time.Time.Truncate] does) and in UTC.
//     A zero time comes back as a zero time ([time.Time.IsZero] holds).
//   - A record is live while now is before its ExpiresAt, compared at
//     millisecond resolution; from ExpiresAt on it is expired.
//   - Claims must be JSON-compatible. They are stored as JSON and come back as
//     [encoding/json] decodes JSON into an any: numbers as float64, arrays as
//     []any, objects as map[string]any. A value JSON cannot encode (a channel,
//     a NaN) makes the create fail.
//   - A nil and an empty slice or map are the same value; either may come back.
//   - Values are copied in and out: changing a slice or map after a create, or
//     in a returned record, never changes what is stored.
//   - An empty key (IDHash, Hash) makes the create fail.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned for a record that is missing, already consumed or
// expired at the given now: callers must treat the three the same way.
var ErrNotFound = errors.New("store: not found")

// ErrDuplicate is returned when a record with the same key already exists.
var ErrDuplicate = errors.New("store: duplicate key")

// AuthRequest is a validated /authorize request waiting for the user to sign
// in. It is keyed by the SHA-256 of a random request id that the login form
// carries, and bound to the browser that started it by the SHA-256 of a random
// cookie value, so that knowing the request id alone is not enough to finish it.
type AuthRequest struct {
	IDHash      []byte // SHA-256 of the request id in the login form
	BrowserHash []byte // SHA-256 of the browser-binding cookie value
	CSRFHash    []byte // SHA-256 of the form's CSRF token
	ClientID    string
	RedirectURI string
	State       string
	Challenge   string // S256 code_challenge, 43 base64url characters
	Nonce       string
	Scope       []string
	ExpiresAt   time.Time
}

// AuthCode is an issued authorization code (RFC 6749 §4.1.2), bound to the
// client, redirect URI, PKCE challenge, user and scope it was issued for.
type AuthCode struct {
	Hash        []byte // SHA-256 of the code
	ClientID    string
	RedirectURI string
	Challenge   string
	Subject     string
	Claims      map[string]any // the user-validation callback's custom claims
	Scope       []string
	Nonce       string
	AuthTime    time.Time
	ExpiresAt   time.Time
}

// AuthRequests holds pending authorization requests.
type AuthRequests interface {
	// CreateAuthRequest stores r; ErrDuplicate if r.IDHash is taken.
	CreateAuthRequest(ctx context.Context, r AuthRequest) error
	// GetAuthRequest returns the request without consuming it; ErrNotFound if
	// it is missing or expired at now.
	GetAuthRequest(ctx context.Context, idHash []byte, now time.Time) (AuthRequest, error)
	// ConsumeAuthRequest deletes and returns the request in one atomic step, so
	// that one pending request yields at most one code; ErrNotFound if it is
	// missing, already consumed or expired at now.
	ConsumeAuthRequest(ctx context.Context, idHash []byte, now time.Time) (AuthRequest, error)
}

// Codes holds authorization codes.
type Codes interface {
	// CreateCode stores c; ErrDuplicate if c.Hash is taken.
	CreateCode(ctx context.Context, c AuthCode) error
	// ConsumeCode deletes and returns the code in one atomic step, so that two
	// concurrent redemptions cannot both win; ErrNotFound if it is missing,
	// already consumed or expired at now.
	ConsumeCode(ctx context.Context, hash []byte, now time.Time) (AuthCode, error)
}

// Store is everything a Keystile server needs from its storage.
type Store interface {
	AuthRequests
	Codes
	// DeleteExpired removes every record that is expired at now (ExpiresAt
	// not after now, the same rule the getters apply) and reports how many it
	// removed; it keeps the store from growing without bound.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
	// Close releases the backend's resources.
	Close() error
}
