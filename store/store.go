// Package store defines the persistence Keystile needs: the ids of used
// authorization requests, authorization codes, browser sessions,
// refresh-token families, revoked access tokens, device authorizations and,
// optionally, signing keys. Backends live in subpackages (memory,
// sqlite, postgres) and all pass the conformance suite in storetest.
//
// Records are plain values: a backend never hands out a pointer into its own
// state, and secrets (codes, request ids, session ids) are stored only as
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
//   - An empty key (IDHash, Hash, a refresh token's FamilyID, a jti) makes
//     the create fail.
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

// ErrReused is returned when a single-use credential (an authorization code,
// a refresh token) is presented again after it was used. RFC 9700 §4.14 and
// RFC 6749 §4.1.2 treat that as a sign of theft: the store has already revoked
// the refresh-token family the credential belongs to when it returns this.
var ErrReused = errors.New("store: credential reused")

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
	// Resources are the RFC 8707 resource indicators granted with the code:
	// the APIs its tokens may be minted for.
	Resources []string
	Nonce     string
	AuthTime  time.Time
	ExpiresAt time.Time
	// FamilyID names the grant: every refresh token issued from this code
	// carries it, so that a replay of the code can revoke them all. Empty
	// for a code that is to be exchanged without a refresh token: there is
	// then no family for a replay or an ended session to revoke.
	FamilyID string
	// SessionIDHash is the browser session the code was issued in, if any.
	SessionIDHash []byte
}

// Codes holds authorization codes.
type Codes interface {
	// CreateCode stores c; ErrDuplicate if c.Hash is taken.
	CreateCode(ctx context.Context, c AuthCode) error
	// RedeemCode marks the code used and creates the first refresh token
	// issued from it, in one atomic step, so that two concurrent
	// redemptions cannot both win and a database writes a code exchange
	// in one transaction.
	//
	// A code that is missing or expired at now is ErrNotFound. A code that
	// was already used returns the code with ErrReused, after revoking the
	// refresh-token family named by its FamilyID (RFC 6749 §4.1.2), every
	// time it is presented again; a used code is kept until it expires, so
	// that a replay is recognised for as long as the code lives. The family
	// is revoked even if it has no token yet (the winning redemption may
	// still be issuing its first one): a token created in it afterwards is
	// born revoked. An empty FamilyID names no family. In these cases
	// issue is not called.
	//
	// Otherwise the code is marked used and issue is called once with it;
	// issue decides whether the code is good (the caller's checks) and
	// returns the token to create, as CreateRefreshToken would, or nil for
	// none. If issue returns an error, the code stays used, nothing else is
	// stored, and RedeemCode returns the code with that error as it is: a
	// code that fails a check is burned. ErrDuplicate if the token's hash
	// is taken; on that or any other error of the store's own, nothing
	// changes. issue runs while the store holds its lock or transaction:
	// it must be quick and must not call the store.
	//
	// A code with an empty FamilyID starts no family: its redemption
	// stores nothing but the code's use. issue must return no token for
	// such a code; a token it returns is not stored, and RedeemCode fails
	// with the code used.
	RedeemCode(ctx context.Context, hash []byte, now time.Time, issue func(AuthCode) (*RefreshToken, error)) (AuthCode, error)
}

// Session is a signed-in browser: single sign-on across authorization
// requests. It is keyed by the SHA-256 of the random session cookie value.
type Session struct {
	IDHash    []byte
	Subject   string
	Claims    map[string]any
	AuthTime  time.Time // when the user typed their password
	ExpiresAt time.Time
}

// Sessions holds browser sessions.
type Sessions interface {
	// CreateSession stores s; ErrDuplicate if s.IDHash is taken.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session; ErrNotFound if it is missing, ended, or
	// expired at now.
	GetSession(ctx context.Context, idHash []byte, now time.Time) (Session, error)
	// EndSession deletes the session and, when revokeTokens is set, revokes
	// every refresh-token family whose SessionIDHash is idHash, in one atomic
	// step. Ending a missing session is not an error; an empty idHash names
	// no session and revokes nothing.
	EndSession(ctx context.Context, idHash []byte, revokeTokens bool) error
	// RenewSession replaces the session oldIDHash by next in one atomic step,
	// for a user who signs in again in the browser that holds it: next is
	// created, every refresh-token family issued in the old session now
	// belongs to next (so ending next revokes them), every authorization
	// code issued in it now names next (so a code issued just before the
	// sign-in still finds its session), and the old session is deleted. The
	// browser gets a new session id (OWASP ASVS V7.2.4: no session fixation)
	// without orphaning the grants of the old one, which no sign-out could
	// reach any more. ErrNotFound if the old session is missing, ended or
	// expired at now; ErrDuplicate if next.IDHash is taken; on any error
	// nothing changes.
	RenewSession(ctx context.Context, oldIDHash []byte, next Session, now time.Time) error
}

// RefreshToken is one refresh token (RFC 6749 §1.5). Tokens are rotated on
// every use: each use marks the token used and issues a successor in the
// same family, the chain of tokens descended from one authorization.
type RefreshToken struct {
	Hash          []byte // SHA-256 of the token
	FamilyID      string
	SessionIDHash []byte // the browser session the family started in, if any
	ClientID      string
	Subject       string
	Claims        map[string]any
	Scope         []string // the scope granted to the family; refreshes may only narrow it
	Resources     []string // the RFC 8707 resources granted to the family; a refresh picks among them
	Nonce         string
	AuthTime      time.Time
	IssuedAt      time.Time
	// ExpiresAt is the idle expiry of this token; FamilyExpiresAt the
	// absolute expiry of the family, which no rotation extends.
	ExpiresAt       time.Time
	FamilyExpiresAt time.Time
	// UsedAt is zero until the token is rotated.
	UsedAt time.Time
}

// RefreshTokens holds refresh tokens and their families.
type RefreshTokens interface {
	// CreateRefreshToken stores t as the first token of its family (or of a
	// family that exists); ErrDuplicate if t.Hash is taken. The first token
	// fixes the family's SessionIDHash and FamilyExpiresAt; a token created
	// in an existing family takes the family's, and one created in a revoked
	// family is revoked from birth. t.UsedAt is ignored: a new token is
	// unused.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// GetRefreshToken returns the token, used or not (UsedAt tells);
	// ErrNotFound if it is missing, expired at now (its own or its family's
	// expiry), or its family is revoked.
	GetRefreshToken(ctx context.Context, hash []byte, now time.Time) (RefreshToken, error)
	// RotateRefreshToken marks the token oldHash used at now and stores next
	// in the same family, in one atomic step: of two concurrent rotations of
	// one token, exactly one succeeds. If oldHash was already used, it revokes
	// the whole family and returns ErrReused (RFC 9700 §4.14.2), even when
	// the family is already revoked, so that every replay is seen as one;
	// otherwise ErrNotFound as for GetRefreshToken. next.FamilyID must equal
	// the old token's, and next's SessionIDHash and FamilyExpiresAt are
	// ignored: the family's stay, so that no rotation extends the family. A
	// refused rotation (an error other than ErrReused) changes nothing.
	RotateRefreshToken(ctx context.Context, oldHash []byte, next RefreshToken, now time.Time) error
	// RevokeFamily revokes every token of the family, now and from now on:
	// the revoked family is kept until its FamilyExpiresAt, so that a token
	// created in it later is revoked too. Revoking an unknown or revoked
	// family is not an error (and records nothing).
	RevokeFamily(ctx context.Context, familyID string) error
}

// AccessTokenRevocations is the deny-list of revoked JWT access tokens, by
// jti (RFC 7009). An entry is kept until the token would have expired anyway.
type AccessTokenRevocations interface {
	// RevokeAccessToken records jti as revoked until expiresAt. Revoking twice
	// is not an error; the later expiresAt is kept.
	RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error
	// AccessTokenRevoked reports whether jti is revoked. On an error the
	// caller must treat the token as revoked (fail closed).
	AccessTokenRevoked(ctx context.Context, jti string) (bool, error)
}

// Revocation is one entry of the deny-list: a revoked jti and when its
// entry lapses (the token would have expired by then anyway).
type Revocation struct {
	JTI       string
	ExpiresAt time.Time
}

// RevocationFeed is the optional role of a backend that can keep a copy of
// the deny-list current in a process's memory, so that verifying a token
// reads no store: it tells a follower of every revocation committed by any
// process sharing the store, and says so whenever it cannot. A backend
// without the role (SQLite: another process writing the same file cannot
// be heard) leaves the verifier reading AccessTokenRevoked per token.
type RevocationFeed interface {
	// FollowRevocations keeps sink current until ctx is done, and then
	// returns ctx's error. It first calls sink.Reset with every revocation
	// the store holds (lapsed ones may be among them), read after it
	// started listening, so that none committed in between is missed; then sink.Add for each
	// revocation committed afterwards (one already given may come again).
	// When it can no longer promise that every revocation reaches sink (a
	// lost connection), it calls sink.Lost before anything else, and
	// sink.Reset again once it can. Calls to sink come from one goroutine
	// at a time.
	FollowRevocations(ctx context.Context, sink RevocationSink) error
}

// RevocationSink is what a RevocationFeed keeps current.
type RevocationSink interface {
	// Reset replaces everything the sink holds by live, which is complete.
	Reset(live []Revocation)
	// Add adds one revocation.
	Add(r Revocation)
	// Lost says that revocations may be missed until the next Reset.
	Lost(err error)
}

// StoredKey is one signing key kept in the store, so that replicas sharing
// the store share their keys. The store keeps Material as given: the caller
// encodes the private key, and may seal it with a key it alone holds.
type StoredKey struct {
	// Generation numbers the keys 1, 2, …: of two keys created from the same
	// view of the store (two replicas starting, or rotating, at once) only
	// one can take the next generation.
	Generation int64
	KeyID      string
	Algorithm  string
	Material   []byte
	CreatedAt  time.Time
	// ActiveAt is when the key starts to sign; until then it only verifies
	// (and is published), so that remote verifiers learn it first.
	ActiveAt time.Time
}

// SigningKeys holds the signing keys of replicas that share them. Keys are
// few (a rotation every few weeks, the dead ones deleted), so they are read
// all at once.
type SigningKeys interface {
	// AddSigningKey stores k: the conditional insert by which exactly one of
	// several replicas creates a generation. ErrDuplicate if k.Generation
	// or k.KeyID is taken; an empty KeyID or Material, or a Generation
	// under 1, makes it fail.
	AddSigningKey(ctx context.Context, k StoredKey) error
	// ListSigningKeys returns every stored key, newest generation first.
	ListSigningKeys(ctx context.Context) ([]StoredKey, error)
	// DeleteSigningKeys deletes the keys of generations below gen and
	// reports how many it deleted.
	DeleteSigningKeys(ctx context.Context, below int64) (int64, error)
}

// Failures are the failed attempts a throttle key has made in its current
// window. The store only counts them; what they allow (a back-off, a cap)
// is the throttle's rule, written once by its caller.
type Failures struct {
	Count     int       // failures in the window
	Streak    int       // failures in the window since the last success
	Last      time.Time // the latest failure
	WindowEnd time.Time // the window lapses here; zero: no live window
}

// Throttles keeps failed sign-ins per throttle key, so that every replica
// sharing the store judges an account by the same count: five failures
// through one count at the other. Keys are hashes (a mistyped password
// often lands in a username). A key's window is live while now is before
// its WindowEnd, as for a record's expiry; DeleteExpired removes the
// others. A backend that keeps no throttles (memory: one process) leaves
// the throttle in the server's memory.
type Throttles interface {
	// RecordFailure counts one failure against keyHash at now and returns
	// the key's failures with it, in one atomic step: of concurrent
	// recordings none is lost. A key without a live window at now starts
	// one that ends at windowEnd, with Count and Streak 1.
	RecordFailure(ctx context.Context, keyHash []byte, now, windowEnd time.Time) (Failures, error)
	// ClearStreak sets the key's Streak to 0 after a success; its Count
	// and window stay. Clearing a key without a record is not an error.
	ClearStreak(ctx context.Context, keyHash []byte) error
	// FailuresOf returns the key's failures at now: zero if it has no live
	// window.
	FailuresOf(ctx context.Context, keyHash []byte, now time.Time) (Failures, error)
}

// SignIn is everything one successful sign-in at the login form writes:
// the used authorization request, the browser's new session, and the code.
type SignIn struct {
	// RequestIDHash is the authorization request the sign-in answers,
	// recorded used until RequestExpiresAt.
	RequestIDHash    []byte
	RequestExpiresAt time.Time
	// Session is the browser's new session; a zero IDHash: none (single
	// sign-on is off), and Previous is then ignored.
	Session Session
	// Previous is the session the browser brought, if any. With
	// RenewPrevious (the same user signed in again) it is renewed into
	// Session as by [Sessions.RenewSession], or, if it has ended or
	// expired at now, Session is simply created; without, it is ended and
	// its refresh-token families are revoked, as by [Sessions.EndSession]
	// with revokeTokens.
	Previous      []byte
	RenewPrevious bool
	// Code is the authorization code issued; its SessionIDHash names
	// Session.
	Code AuthCode
}

// SignIns completes a sign-in as one step, so that a database writes it in
// one transaction rather than one per record.
//
// It is also what remembers the authorization requests that already yielded
// a sign-in. A pending /authorize request is not stored: the login form
// carries it sealed, so that unfinished sign-ins cost the store nothing. Its
// id is recorded only when a sign-in succeeds, so that one login form yields
// at most one code, however often it is posted.
type SignIns interface {
	// CompleteSignIn records s in one atomic step: of concurrent sign-ins
	// with one RequestIDHash exactly one succeeds, and the others fail with
	// ErrReused, as does any later one while the request's record is live;
	// a record expired at now counts as absent and is replaced.
	// ErrDuplicate if the session's or the code's hash is taken, or the
	// session's is Previous; an empty
	// RequestIDHash or code Hash fails. On any error nothing changes.
	CompleteSignIn(ctx context.Context, s SignIn, now time.Time) error
}

// Store is everything a Keystile server needs from its storage.
type Store interface {
	Codes
	Sessions
	SignIns
	RefreshTokens
	AccessTokenRevocations
	DeviceCodes
	// DeleteExpired removes every record that is expired at now (ExpiresAt
	// not after now, the same rule the getters apply) and reports how many it
	// removed; it keeps the store from growing without bound. Used request
	// ids and used codes go at their expiry; refresh tokens at their own or
	// their family's expiry, or at once when their family is revoked; a family record at its
	// FamilyExpiresAt, revoked or not; revoked jtis at their expiresAt;
	// device codes at their expiry, decided or not; a Throttles backend's
	// failures at their WindowEnd.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
	// Ping reports whether the backend answers, cheaply: a readiness probe
	// calls it every few seconds.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}
