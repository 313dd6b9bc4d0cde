package keystile

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/keystile/keystile/store"
)

// revocationPruneEvery is the least time between two sweeps of lapsed
// entries out of the in-memory deny-list. An entry lives at most the access
// token lifetime plus the leeway, and a sweep runs only when an entry is
// added, so the set holds at most the revocations of one lifetime and a
// minute: few, since each needs an authenticated client at /revoke or a
// replayed code.
const revocationPruneEvery = time.Minute

// revocations is the server's copy of the deny-list, so that a verification
// asks no store. It is authoritative only while a feed keeps it complete
// (Server.FollowRevocations on a store.RevocationFeed); until the feed's
// first Reset, and from a Lost until the next Reset, a jti it does not hold
// is asked of the store, as it is on a store without a feed. What this
// server revokes itself it adds at once, whatever the feed does.
type revocations struct {
	store store.AccessTokenRevocations
	now   func() time.Time
	log   *slog.Logger

	mu        sync.RWMutex
	jtis      map[string]time.Time // jti → when the entry lapses
	complete  bool                 // a feed holds jtis complete
	lastPrune time.Time
}

var _ store.RevocationSink = (*revocations)(nil)

func newRevocations(st store.AccessTokenRevocations, now func() time.Time, log *slog.Logger) *revocations {
	return &revocations{store: st, now: now, log: log, jtis: map[string]time.Time{}}
}

// revoked reports whether jti is revoked: the verifier's deny-list check.
// It reads the store only while the set is not complete; a store error is
// the caller's to refuse the token on.
func (r *revocations) revoked(ctx context.Context, jti string) (bool, error) {
	r.mu.RLock()
	_, held := r.jtis[jti]
	complete := r.complete
	r.mu.RUnlock()
	if held {
		return true, nil
	}
	if complete {
		return false, nil
	}
	return r.store.AccessTokenRevoked(ctx, jti)
}

// Reset implements store.RevocationSink.
func (r *revocations) Reset(live []store.Revocation) {
	jtis := make(map[string]time.Time, len(live))
	for _, rv := range live {
		jtis[rv.JTI] = rv.ExpiresAt
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// What this server revoked itself while the feed was away stays: its
	// own store write may have committed after the feed read the list.
	for jti, exp := range r.jtis {
		if old, ok := jtis[jti]; !ok || exp.After(old) {
			jtis[jti] = exp
		}
	}
	r.jtis = jtis
	if !r.complete {
		r.log.Info("the deny-list is kept in memory; verifying a token reads no store", "revoked", len(jtis))
	}
	r.complete = true
	r.pruneLocked()
}

// Add implements store.RevocationSink, and records this server's own
// revocations once the store has them.
func (r *revocations) Add(rv store.Revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.jtis[rv.JTI]; !ok || rv.ExpiresAt.After(old) {
		r.jtis[rv.JTI] = rv.ExpiresAt
	}
	if r.now().Sub(r.lastPrune) >= revocationPruneEvery {
		r.pruneLocked()
	}
}

// Lost implements store.RevocationSink: until the next Reset, every
// verification asks the store again.
func (r *revocations) Lost(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.complete {
		r.log.Warn("the deny-list feed was lost; verifying a token reads the store until it is back", "error", err)
	}
	r.complete = false
}

// pruneLocked drops the entries that have lapsed: their tokens have expired
// (with the leeway), so the verifier refuses them without the deny-list.
func (r *revocations) pruneLocked() {
	now := r.now()
	for jti, exp := range r.jtis {
		if !now.Before(exp) {
			delete(r.jtis, jti)
		}
	}
	r.lastPrune = now
}

// FollowRevocations keeps the server's in-memory deny-list current from its
// store, until ctx is done, so that the in-process verifier (Verifier,
// RequireClaim, /userinfo, /introspect, /revoke) reads no store for a token:
// a revocation at another replica sharing the store is refused here as soon
// as the store's notice arrives. Run it in a goroutine of its own for as
// long as the server serves. Whenever the feed is down (not yet started,
// or its connection lost) each verification reads the store instead, as it
// does on a store that is not a store.RevocationFeed, for which this
// returns at once. The error is ctx's, or nil on such a store.
func (s *Server) FollowRevocations(ctx context.Context) error {
	feed, ok := s.store.(store.RevocationFeed)
	if !ok {
		return nil
	}
	return feed.FollowRevocations(ctx, s.revocations)
}

// revokeAccessToken records in the store, then in memory, that the token
// jti, which expires at exp, is revoked: in memory only once the store has
// it, so that a token this server refuses is refused by every replica too.
// The entry lasts until exp plus DefaultLeeway, since the verifier accepts
// a token that long, and the deny-list (and the store's purge) drops it then.
func (s *Server) revokeAccessToken(ctx context.Context, jti string, exp time.Time) error {
	exp = exp.Add(DefaultLeeway)
	if err := s.store.RevokeAccessToken(ctx, jti, exp); err != nil {
		return err
	}
	s.revocations.Add(store.Revocation{JTI: jti, ExpiresAt: exp})
	return nil
}
