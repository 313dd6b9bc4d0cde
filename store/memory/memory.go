// Package memory is a [store.Store] kept in process memory, for tests and for
// programs that embed Keystile and can afford to lose every session and
// refresh token on restart.
//
// It keeps the same value contract as the database backends: values are
// copied in and out, claims go through JSON, times are kept to the
// millisecond. A test that passes against it therefore does not start failing
// when the server is switched to SQLite.
package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keystile/keystile/store"
)

var (
	_ store.Store          = (*Store)(nil)
	_ store.SigningKeys    = (*Store)(nil)
	_ store.RevocationFeed = (*Store)(nil)
)

// Store is an in-memory [store.Store]. It is safe for concurrent use; one
// mutex guards all records, which keeps every consume, rotation and
// revocation trivially atomic, including those that touch several maps.
type Store struct {
	mu       sync.Mutex
	used     map[string]time.Time    // key: string(idHash) of a used request; value: its expiry
	codes    map[string]codeEntry    // key: string(Hash)
	sessions map[string]sessionEntry // key: string(IDHash)
	families map[string]family       // key: FamilyID
	refresh  map[string]refreshEntry // key: string(Hash)
	revoked  map[string]time.Time    // key: jti; value: when the entry may go
	devices  map[string]deviceEntry  // key: string(Hash)
	// userCodes finds a device code by its user code: string(UserCodeHash)
	// to string(Hash).
	userCodes map[string]string
	keys      []store.StoredKey
	// followers are told of every revocation, under mu (revocations.go).
	followers map[*store.RevocationSink]struct{}
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		used:      make(map[string]time.Time),
		codes:     make(map[string]codeEntry),
		sessions:  make(map[string]sessionEntry),
		families:  make(map[string]family),
		refresh:   make(map[string]refreshEntry),
		revoked:   make(map[string]time.Time),
		devices:   make(map[string]deviceEntry),
		userCodes: make(map[string]string),
		followers: make(map[*store.RevocationSink]struct{}),
	}
}

// DeleteExpired implements [store.Store]. A refresh token goes when it or its
// family expires or its family is revoked; a family record itself stays until
// its own expiry even when revoked, so that a token created in it later (the
// loser of a code-replay race) is still born revoked.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k, exp := range s.used {
		if !live(exp, now) {
			delete(s.used, k)
			n++
		}
	}
	for k, e := range s.codes {
		if !live(e.code.ExpiresAt, now) {
			delete(s.codes, k)
			n++
		}
	}
	for k, e := range s.sessions {
		if !live(e.session.ExpiresAt, now) {
			delete(s.sessions, k)
			n++
		}
	}
	for k, e := range s.refresh {
		f := s.families[e.token.FamilyID]
		if f.revoked || !live(f.expiresAt, now) || !live(e.token.ExpiresAt, now) {
			delete(s.refresh, k)
			n++
		}
	}
	for id, f := range s.families {
		if !live(f.expiresAt, now) {
			delete(s.families, id)
			n++
		}
	}
	for _, e := range s.devices {
		if !live(e.code.ExpiresAt, now) {
			s.deleteDevice(e.code)
			n++
		}
	}
	for jti, exp := range s.revoked {
		if !live(exp, now) {
			delete(s.revoked, jti)
			n++
		}
	}
	return n, nil
}

// Close implements [store.Store]; there is nothing to release.
func (s *Store) Close() error { return nil }

var errEmptyKey = errors.New("memory: empty key")

// errLoneToken refuses a refresh token issued from a code that starts no
// family ([store.Codes.RedeemCode]).
var errLoneToken = errors.New("memory: a code that starts no refresh-token family issues no token")

// live reports whether a record expiring at exp is still usable at now, at
// the millisecond resolution every backend shares.
func live(exp, now time.Time) bool {
	return exp.UnixMilli() > now.UnixMilli()
}

// normTime keeps t to the millisecond, in UTC, as the SQL backends do; a zero
// time stays zero.
func normTime(t time.Time) time.Time {
	return t.Truncate(time.Millisecond).UTC()
}

// encodeClaims turns claims into JSON, which is both the deep copy and the
// check that they are JSON-compatible, as the SQL backends require.
func encodeClaims(c map[string]any) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("memory: encode claims: %w", err)
	}
	return b, nil
}

func decodeClaims(b []byte) (map[string]any, error) {
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("memory: decode claims: %w", err)
	}
	return c, nil
}

// cloneBytes and cloneStrings copy, keeping nil as nil.
func cloneBytes(b []byte) []byte       { return slices.Clone(b) }
func cloneStrings(s []string) []string { return slices.Clone(s) }

// Ping implements [store.Store]: memory always answers.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }
