// Package storetest is the conformance suite every [store.Store] backend must
// pass. A backend's test calls [Run] with a function that opens an empty
// store; the suite lives here rather than in package store so that store does
// not import testing.
//
// The suite checks the contract documented on package store: single use under
// concurrency, expiry judged at the now passed in, sentinel errors, and values
// that round-trip as copies, with claims normalised through JSON and times
// kept to the millisecond.
package storetest

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// Run runs the conformance suite. newStore is called once per subtest and must
// return an empty store; Run closes it when the subtest ends and fails the
// subtest if Close fails, so newStore must not close it itself. Anything else
// newStore sets up (a temporary directory) it cleans up with t.Cleanup, which
// runs after Run's Close.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	open := func(t *testing.T) store.Store {
		t.Helper()
		s := newStore(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	// The optional roles' cases are registered only for a backend that has
	// the role (a probe store tells), so that a backend without one shows
	// no case at all rather than skipped ones.
	probe := open(t)
	_, hasSigningKeys := probe.(store.SigningKeys)
	_, hasThrottles := probe.(store.Throttles)
	_, hasFeed := probe.(store.RevocationFeed)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store)
		has  bool // the backend has the role the case tests
	}{
		{"a request id can be used once while it lives", testUseRequest, true},
		{"code can be consumed once, then is reported reused", testCodeLifecycle, true},
		{"a replayed code revokes its refresh-token family", testCodeReplayRevokesFamily, true},
		{"a redemption consumes the code and stores its first token as one", testRedeemCode, true},
		{"concurrent redemptions of one code: exactly one is issued", testConcurrentRedeemCode, true},
		{"session can be created, read and ended", testSessionLifecycle, true},
		{"ending a session revokes its refresh tokens on request", testEndSessionRevokes, true},
		{"renewing a session moves its grants to the new one", testRenewSession, true},
		{"a refused renewal changes nothing", testRenewSessionRefused, true},
		{"concurrent renewals of one session: exactly one wins", testConcurrentRenew, true},
		{"a sign-in stores its request, session and code as one", testSignIn, true},
		{"a sign-in renews or ends the session the browser brought", testSignInPrevious, true},
		{"a refused sign-in changes nothing", testSignInRefused, true},
		{"concurrent sign-ins with one request: exactly one wins", testConcurrentSignIn, true},
		{"refresh token round-trips", testRefreshRoundTrip, true},
		{"rotation marks the old token used and stores the next", testRotate, true},
		{"rotating a used token revokes the family", testRotateReuse, true},
		{"a refused rotation changes nothing", testRotateRefused, true},
		{"RevokeFamily revokes exactly one family", testRevokeFamily, true},
		{"access tokens can be revoked by jti", testAccessTokenRevocations, true},
		{"claims come back as JSON decodes them", testClaimsRoundTrip, true},
		{"claims JSON cannot encode are refused", testClaimsNotJSON, true},
		{"times are kept to the millisecond in UTC", testTimes, true},
		{"records expire at ExpiresAt", testExpiry, true},
		{"a taken key is refused with ErrDuplicate", testDuplicate, true},
		{"a missing key gives ErrNotFound", testMissing, true},
		{"an empty key is refused", testEmptyKey, true},
		{"record kinds do not share keys", testSeparateKinds, true},
		{"records are copied in and out", testCopies, true},
		{"nil and empty slices round-trip as empty", testEmptyValues, true},
		{"concurrent consumes of one code: exactly one wins", testConcurrentConsumeCode, true},
		{"concurrent rotations of one refresh token: exactly one wins", testConcurrentRotate, true},
		{"concurrent uses of one request id: exactly one wins", testConcurrentUseRequest, true},
		{"concurrent creates of one key: exactly one wins", testConcurrentCreate, true},
		{"DeleteExpired removes exactly the expired records", testDeleteExpired, true},
		{"device code: pending, polled, decided once, consumed once", testDeviceLifecycle, true},
		{"device code: expiry", testDeviceExpiry, true},
		{"device code: taken, empty and missing keys; a denial", testDeviceKeys, true},
		{"concurrent polls of one approved device code: exactly one wins", testConcurrentPollDevice, true},
		{"a cancelled context fails and changes nothing", testCancelled, true},
		{"signing keys are kept by generation, newest first", testSigningKeys, hasSigningKeys},
		{"concurrent adds of one key generation: exactly one wins", testConcurrentAddSigningKey, hasSigningKeys},
		{"throttle failures are counted in a window", testThrottles, hasThrottles},
		{"DeleteExpired removes lapsed throttle failures", testThrottlesExpire, hasThrottles},
		{"concurrent failures of one throttle key: none is lost", testConcurrentFailures, hasThrottles},
		{"a revocation follower hears of every revocation", testRevocationFeed, hasFeed},
		{"Ping answers", testPing, true},
	} {
		if !tc.has {
			t.Logf("not run: the backend lacks the role of %q", tc.name)
			continue
		}
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

// t0 is the suite's clock: millisecond-aligned, so that expiry boundaries are
// exact, and far enough ahead that no backend mistakes it for the wall clock.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// hash stands in for the SHA-256 of a random secret; name keeps tests readable.
func hash(name string) []byte {
	h := sha256.Sum256([]byte(name))
	return h[:]
}

func counterHash(i uint64) []byte {
	h := make([]byte, 32)
	binary.BigEndian.PutUint64(h, i)
	return h
}

// requestID stands in for the hash of a used request's id.
func requestID(name string) []byte { return hash("request " + name) }

func sampleCode(name string) store.AuthCode {
	return store.AuthCode{
		Hash:        hash("code " + name),
		ClientID:    "spa",
		RedirectURI: "https://app.example.com/callback",
		Challenge:   "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		Subject:     "alice",
		Claims: map[string]any{
			"role":   "admin",
			"n":      1.5,
			"groups": []string{"a", "b"},
			"ok":     true,
		},
		Scope:         []string{"openid", "email"},
		Resources:     []string{"https://photos.example.com/api", "urn:example:calendar"},
		Nonce:         "nonce-" + name,
		AuthTime:      t0.Add(-time.Minute),
		ExpiresAt:     t0.Add(time.Minute),
		FamilyID:      "code family " + name,
		SessionIDHash: hash("session " + name),
	}
}
