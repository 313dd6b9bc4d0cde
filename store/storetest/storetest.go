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
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"a request id can be used once while it lives", testUseRequest},
		{"code can be consumed once, then is reported reused", testCodeLifecycle},
		{"a replayed code revokes its refresh-token family", testCodeReplayRevokesFamily},
		{"session can be created, read and ended", testSessionLifecycle},
		{"ending a session revokes its refresh tokens on request", testEndSessionRevokes},
		{"renewing a session moves its grants to the new one", testRenewSession},
		{"a refused renewal changes nothing", testRenewSessionRefused},
		{"concurrent renewals of one session: exactly one wins", testConcurrentRenew},
		{"refresh token round-trips", testRefreshRoundTrip},
		{"rotation marks the old token used and stores the next", testRotate},
		{"rotating a used token revokes the family", testRotateReuse},
		{"a refused rotation changes nothing", testRotateRefused},
		{"RevokeFamily revokes exactly one family", testRevokeFamily},
		{"access tokens can be revoked by jti", testAccessTokenRevocations},
		{"claims come back as JSON decodes them", testClaimsRoundTrip},
		{"claims JSON cannot encode are refused", testClaimsNotJSON},
		{"times are kept to the millisecond in UTC", testTimes},
		{"records expire at ExpiresAt", testExpiry},
		{"a taken key is refused with ErrDuplicate", testDuplicate},
		{"a missing key gives ErrNotFound", testMissing},
		{"an empty key is refused", testEmptyKey},
		{"record kinds do not share keys", testSeparateKinds},
		{"records are copied in and out", testCopies},
		{"nil and empty slices round-trip as empty", testEmptyValues},
		{"concurrent consumes of one code: exactly one wins", testConcurrentConsumeCode},
		{"concurrent rotations of one refresh token: exactly one wins", testConcurrentRotate},
		{"concurrent uses of one request id: exactly one wins", testConcurrentUseRequest},
		{"concurrent creates of one key: exactly one wins", testConcurrentCreate},
		{"DeleteExpired removes exactly the expired records", testDeleteExpired},
		{"device code: pending, polled, decided once, consumed once", testDeviceLifecycle},
		{"device code: expiry", testDeviceExpiry},
		{"device code: taken, empty and missing keys; a denial", testDeviceKeys},
		{"concurrent polls of one approved device code: exactly one wins", testConcurrentPollDevice},
		{"a cancelled context fails and changes nothing", testCancelled},
		{"signing keys are kept by generation, newest first", testSigningKeys},
		{"concurrent adds of one key generation: exactly one wins", testConcurrentAddSigningKey},
		{"throttle failures are counted in a window", testThrottles},
		{"DeleteExpired removes lapsed throttle failures", testThrottlesExpire},
		{"concurrent failures of one throttle key: none is lost", testConcurrentFailures},
		{"Ping answers", testPing},
	} {
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
