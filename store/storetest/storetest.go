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
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
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
		{"auth request can be read then consumed once", testRequestLifecycle},
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
		{"concurrent consumes of one request: exactly one wins", testConcurrentConsumeRequest},
		{"concurrent creates of one key: exactly one wins", testConcurrentCreate},
		{"DeleteExpired removes exactly the expired records", testDeleteExpired},
		{"a cancelled context fails and changes nothing", testCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

// BenchCreateConsumeCode measures one code's life in s: a create followed by
// the consume that redeems it, from one goroutine.
func BenchCreateConsumeCode(b *testing.B, s store.Store) {
	ctx := b.Context()
	c := sampleCode("bench")
	now := c.ExpiresAt.Add(-time.Second)
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		i++
		c.Hash = counterHash(i)
		if err := s.CreateCode(ctx, c); err != nil {
			b.Fatalf("CreateCode: %v", err)
		}
		if _, err := s.ConsumeCode(ctx, c.Hash, now); err != nil {
			b.Fatalf("ConsumeCode: %v", err)
		}
	}
}

// BenchCreateConsumeCodeParallel is [BenchCreateConsumeCode] from
// GOMAXPROCS goroutines at once, each with its own codes: the shape of many
// token requests arriving together.
func BenchCreateConsumeCodeParallel(b *testing.B, s store.Store) {
	ctx := b.Context()
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := sampleCode("bench")
		now := c.ExpiresAt.Add(-time.Second)
		for pb.Next() {
			c.Hash = counterHash(next.Add(1))
			if err := s.CreateCode(ctx, c); err != nil {
				b.Errorf("CreateCode: %v", err)
				return
			}
			if _, err := s.ConsumeCode(ctx, c.Hash, now); err != nil {
				b.Errorf("ConsumeCode: %v", err)
				return
			}
		}
	})
}

// BenchRotateRefreshToken measures one refresh in s: the rotation that
// marks the presented token used and stores its successor, from one
// goroutine, along one ever-growing family.
func BenchRotateRefreshToken(b *testing.B, s store.Store) {
	ctx := b.Context()
	r := sampleRefresh("bench")
	r.Hash = counterHash(0)
	r.FamilyExpiresAt = t0.Add(365 * 24 * time.Hour)
	if err := s.CreateRefreshToken(ctx, r); err != nil {
		b.Fatalf("CreateRefreshToken: %v", err)
	}
	now := t0
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		i++
		next := r
		next.Hash = counterHash(i)
		if err := s.RotateRefreshToken(ctx, r.Hash, next, now); err != nil {
			b.Fatalf("RotateRefreshToken: %v", err)
		}
		r = next
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

func sampleRequest(name string) store.AuthRequest {
	return store.AuthRequest{
		IDHash:      hash("request " + name),
		BrowserHash: hash("browser " + name),
		CSRFHash:    hash("csrf " + name),
		ClientID:    "spa",
		RedirectURI: "https://app.example.com/callback?x=1",
		State:       "state <&>\"' é \x00 " + name,
		Challenge:   "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		Nonce:       "nonce-" + name,
		Scope:       []string{"openid", "profile", "offline_access"},
		ExpiresAt:   t0.Add(time.Minute),
	}
}

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
		Nonce:         "nonce-" + name,
		AuthTime:      t0.Add(-time.Minute),
		ExpiresAt:     t0.Add(time.Minute),
		FamilyID:      "code family " + name,
		SessionIDHash: hash("session " + name),
	}
}

func testRequestLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleRequest("a")
	if err := s.CreateAuthRequest(ctx, want); err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	// Reading must not consume: the login form is shown, then posted.
	for i := range 2 {
		got, err := s.GetAuthRequest(ctx, want.IDHash, t0)
		if err != nil {
			t.Fatalf("GetAuthRequest #%d: %v", i+1, err)
		}
		checkRequest(t, "GetAuthRequest", got, want)
	}
	got, err := s.ConsumeAuthRequest(ctx, want.IDHash, t0)
	if err != nil {
		t.Fatalf("ConsumeAuthRequest: %v", err)
	}
	checkRequest(t, "ConsumeAuthRequest", got, want)
	if _, err := s.ConsumeAuthRequest(ctx, want.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second ConsumeAuthRequest: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetAuthRequest(ctx, want.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAuthRequest after consume: err = %v, want ErrNotFound", err)
	}
}

func testCodeLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleCode("a")
	if err := s.CreateCode(ctx, want); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	got, err := s.ConsumeCode(ctx, want.Hash, t0)
	if err != nil {
		t.Fatalf("ConsumeCode: %v", err)
	}
	checkCode(t, "ConsumeCode", got, want)
	// A replay is told apart from an unknown code for as long as the code
	// lives, every time, and the caller gets the record to see what the
	// code was issued for.
	for i, now := range []time.Time{t0, t0.Add(30 * time.Second), want.ExpiresAt.Add(-time.Millisecond)} {
		got, err := s.ConsumeCode(ctx, want.Hash, now)
		if !errors.Is(err, store.ErrReused) {
			t.Fatalf("ConsumeCode #%d: err = %v, want ErrReused", i+2, err)
		}
		checkCode(t, "the reused code", got, want)
	}
	if _, err := s.ConsumeCode(ctx, want.Hash, want.ExpiresAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ConsumeCode of the used code once expired: err = %v, want ErrNotFound", err)
	}
}

func testClaimsRoundTrip(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name   string
		claims map[string]any
	}{
		{"scalars and a list", map[string]any{"role": "admin", "n": 1.5, "groups": []any{"a", "b"}, "ok": true}},
		{"nested objects", map[string]any{
			"org":  map[string]any{"id": "o1", "teams": []any{map[string]any{"name": "x", "lead": false}}},
			"null": nil,
		}},
		{"Go integer and string-slice types", map[string]any{"uid": 42, "big": int64(1) << 52, "tags": []string{"p", "q"}}},
		{"text that needs escaping", map[string]any{"s": "quote\" back\\ nul\x00 <b>é😀", "k\"ey": "v"}},
		{"empty object", map[string]any{}},
		{"nil", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sampleCode(tc.name)
			c.Claims = tc.claims
			if err := s.CreateCode(t.Context(), c); err != nil {
				t.Fatalf("CreateCode: %v", err)
			}
			got, err := s.ConsumeCode(t.Context(), c.Hash, t0)
			if err != nil {
				t.Fatalf("ConsumeCode: %v", err)
			}
			checkClaims(t, got.Claims, tc.claims)

			sess := sampleSession(tc.name)
			sess.Claims = tc.claims
			if err := s.CreateSession(t.Context(), sess); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			gs, err := s.GetSession(t.Context(), sess.IDHash, t0)
			if err != nil {
				t.Fatalf("GetSession: %v", err)
			}
			checkClaims(t, gs.Claims, tc.claims)

			r := sampleRefresh(tc.name)
			r.Claims = tc.claims
			if err := s.CreateRefreshToken(t.Context(), r); err != nil {
				t.Fatalf("CreateRefreshToken: %v", err)
			}
			gr, err := s.GetRefreshToken(t.Context(), r.Hash, t0)
			if err != nil {
				t.Fatalf("GetRefreshToken: %v", err)
			}
			checkClaims(t, gr.Claims, tc.claims)
		})
	}
}

func testClaimsNotJSON(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name   string
		claims map[string]any
	}{
		{"channel", map[string]any{"c": make(chan int)}},
		{"NaN", map[string]any{"f": math.NaN()}},
		{"function", map[string]any{"f": func() {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sampleCode(tc.name)
			c.Claims = tc.claims
			if err := s.CreateCode(t.Context(), c); err == nil {
				t.Fatal("CreateCode: err = nil, want an error")
			}
			if _, err := s.ConsumeCode(t.Context(), c.Hash, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ConsumeCode of the refused code: err = %v, want ErrNotFound", err)
			}
			sess := sampleSession(tc.name)
			sess.Claims = tc.claims
			if err := s.CreateSession(t.Context(), sess); err == nil {
				t.Error("CreateSession: err = nil, want an error")
			}
			if _, err := s.GetSession(t.Context(), sess.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetSession of the refused session: err = %v, want ErrNotFound", err)
			}
			r := sampleRefresh(tc.name)
			r.Claims = tc.claims
			if err := s.CreateRefreshToken(t.Context(), r); err == nil {
				t.Error("CreateRefreshToken: err = nil, want an error")
			}
			if _, err := s.GetRefreshToken(t.Context(), r.Hash, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetRefreshToken of the refused token: err = %v, want ErrNotFound", err)
			}
		})
	}
}

func testTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	paris := time.FixedZone("UTC+1", 3600)
	for _, tc := range []struct {
		name      string
		authTime  time.Time
		expiresAt time.Time
	}{
		{"sub-millisecond parts are dropped", t0.Add(-time.Minute + 999_999*time.Nanosecond), t0.Add(time.Minute + 1_234_567*time.Nanosecond)},
		{"another zone comes back as the same instant", t0.In(paris).Add(-time.Hour), t0.In(paris).Add(time.Hour)},
		{"a monotonic reading is not needed", time.Now().Add(-time.Hour), t0.Add(time.Minute)},
		{"zero auth time stays zero", time.Time{}, t0.Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sampleCode(tc.name)
			c.AuthTime, c.ExpiresAt = tc.authTime, tc.expiresAt
			if err := s.CreateCode(ctx, c); err != nil {
				t.Fatalf("CreateCode: %v", err)
			}
			got, err := s.ConsumeCode(ctx, c.Hash, t0)
			if err != nil {
				t.Fatalf("ConsumeCode: %v", err)
			}
			checkTime(t, "AuthTime", got.AuthTime, c.AuthTime)
			checkTime(t, "ExpiresAt", got.ExpiresAt, c.ExpiresAt)

			r := sampleRequest(tc.name)
			r.ExpiresAt = tc.expiresAt
			if err := s.CreateAuthRequest(ctx, r); err != nil {
				t.Fatalf("CreateAuthRequest: %v", err)
			}
			gr, err := s.GetAuthRequest(ctx, r.IDHash, t0)
			if err != nil {
				t.Fatalf("GetAuthRequest: %v", err)
			}
			checkTime(t, "AuthRequest.ExpiresAt", gr.ExpiresAt, r.ExpiresAt)

			sess := sampleSession(tc.name)
			sess.AuthTime, sess.ExpiresAt = tc.authTime, tc.expiresAt
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			gs, err := s.GetSession(ctx, sess.IDHash, t0)
			if err != nil {
				t.Fatalf("GetSession: %v", err)
			}
			checkTime(t, "Session.AuthTime", gs.AuthTime, sess.AuthTime)
			checkTime(t, "Session.ExpiresAt", gs.ExpiresAt, sess.ExpiresAt)
		})
	}
}

func testExpiry(t *testing.T, s store.Store) {
	exp := t0.Add(time.Minute)
	ops := []struct {
		name string
		// run creates a record expiring at exp and reads it at now.
		run func(t *testing.T, name string, now time.Time) error
	}{
		{"GetAuthRequest", func(t *testing.T, name string, now time.Time) error {
			r := sampleRequest(name)
			r.ExpiresAt = exp
			if err := s.CreateAuthRequest(t.Context(), r); err != nil {
				t.Fatalf("CreateAuthRequest: %v", err)
			}
			_, err := s.GetAuthRequest(t.Context(), r.IDHash, now)
			return err
		}},
		{"ConsumeAuthRequest", func(t *testing.T, name string, now time.Time) error {
			r := sampleRequest(name)
			r.ExpiresAt = exp
			if err := s.CreateAuthRequest(t.Context(), r); err != nil {
				t.Fatalf("CreateAuthRequest: %v", err)
			}
			_, err := s.ConsumeAuthRequest(t.Context(), r.IDHash, now)
			return err
		}},
		{"ConsumeCode", func(t *testing.T, name string, now time.Time) error {
			c := sampleCode(name)
			c.ExpiresAt = exp
			if err := s.CreateCode(t.Context(), c); err != nil {
				t.Fatalf("CreateCode: %v", err)
			}
			_, err := s.ConsumeCode(t.Context(), c.Hash, now)
			return err
		}},
		{"ConsumeCode of a used code", func(t *testing.T, name string, now time.Time) error {
			c := sampleCode(name)
			c.ExpiresAt = exp
			if err := s.CreateCode(t.Context(), c); err != nil {
				t.Fatalf("CreateCode: %v", err)
			}
			if _, err := s.ConsumeCode(t.Context(), c.Hash, t0); err != nil {
				t.Fatalf("first ConsumeCode: %v", err)
			}
			// Until expiry a replay is ErrReused, not ErrNotFound.
			if _, err := s.ConsumeCode(t.Context(), c.Hash, now); !errors.Is(err, store.ErrReused) {
				return err
			}
			return nil
		}},
		{"GetSession", func(t *testing.T, name string, now time.Time) error {
			sess := sampleSession(name)
			sess.ExpiresAt = exp
			if err := s.CreateSession(t.Context(), sess); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			_, err := s.GetSession(t.Context(), sess.IDHash, now)
			return err
		}},
		{"GetRefreshToken idle expiry", func(t *testing.T, name string, now time.Time) error {
			r := sampleRefresh(name)
			r.ExpiresAt = exp
			create(t, s, r)
			_, err := s.GetRefreshToken(t.Context(), r.Hash, now)
			return err
		}},
		{"GetRefreshToken family expiry", func(t *testing.T, name string, now time.Time) error {
			r := sampleRefresh(name)
			r.ExpiresAt = exp.Add(time.Hour)
			r.FamilyExpiresAt = exp
			create(t, s, r)
			_, err := s.GetRefreshToken(t.Context(), r.Hash, now)
			return err
		}},
		{"RotateRefreshToken idle expiry", func(t *testing.T, name string, now time.Time) error {
			r := sampleRefresh(name)
			r.ExpiresAt = exp
			create(t, s, r)
			return s.RotateRefreshToken(t.Context(), r.Hash, nextRefresh(r, name+" next"), now)
		}},
		{"RotateRefreshToken family expiry", func(t *testing.T, name string, now time.Time) error {
			r := sampleRefresh(name)
			r.ExpiresAt = exp.Add(time.Hour)
			r.FamilyExpiresAt = exp
			create(t, s, r)
			return s.RotateRefreshToken(t.Context(), r.Hash, nextRefresh(r, name+" next"), now)
		}},
		{"RotateRefreshToken of a used token", func(t *testing.T, name string, now time.Time) error {
			r := sampleRefresh(name)
			r.ExpiresAt = exp
			create(t, s, r)
			if err := s.RotateRefreshToken(t.Context(), r.Hash, nextRefresh(r, name+" next"), exp.Add(-time.Hour)); err != nil {
				t.Fatalf("first RotateRefreshToken: %v", err)
			}
			// Until expiry a replay is ErrReused, not ErrNotFound.
			if err := s.RotateRefreshToken(t.Context(), r.Hash, nextRefresh(r, name+" again"), now); !errors.Is(err, store.ErrReused) {
				return err
			}
			return nil
		}},
	}
	for _, op := range ops {
		for _, tc := range []struct {
			name string
			now  time.Time
			want error
		}{
			{"long before", exp.Add(-time.Hour), nil},
			{"1ms before", exp.Add(-time.Millisecond), nil},
			{"exactly at", exp, store.ErrNotFound},
			{"1ms after", exp.Add(time.Millisecond), store.ErrNotFound},
			{"a day after", exp.Add(24 * time.Hour), store.ErrNotFound},
		} {
			name := op.name + " " + tc.name
			t.Run(name, func(t *testing.T) {
				if err := op.run(t, name, tc.now); !errors.Is(err, tc.want) {
					t.Errorf("err = %v, want %v", err, tc.want)
				}
			})
		}
	}
}

func testDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	t.Run("auth request", func(t *testing.T) {
		first := sampleRequest("dup")
		if err := s.CreateAuthRequest(ctx, first); err != nil {
			t.Fatalf("first CreateAuthRequest: %v", err)
		}
		second := sampleRequest("other")
		second.IDHash = first.IDHash
		if err := s.CreateAuthRequest(ctx, second); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("second CreateAuthRequest: err = %v, want ErrDuplicate", err)
		}
		got, err := s.GetAuthRequest(ctx, first.IDHash, t0)
		if err != nil {
			t.Fatalf("GetAuthRequest: %v", err)
		}
		checkRequest(t, "the first request, kept", got, first)
	})
	t.Run("code", func(t *testing.T) {
		first := sampleCode("dup")
		if err := s.CreateCode(ctx, first); err != nil {
			t.Fatalf("first CreateCode: %v", err)
		}
		second := sampleCode("other")
		second.Hash = first.Hash
		second.Subject = "mallory"
		if err := s.CreateCode(ctx, second); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("second CreateCode: err = %v, want ErrDuplicate", err)
		}
		got, err := s.ConsumeCode(ctx, first.Hash, t0)
		if err != nil {
			t.Fatalf("ConsumeCode: %v", err)
		}
		checkCode(t, "the first code, kept", got, first)
	})
	t.Run("session", func(t *testing.T) {
		first := sampleSession("dup")
		if err := s.CreateSession(ctx, first); err != nil {
			t.Fatalf("first CreateSession: %v", err)
		}
		second := sampleSession("other")
		second.IDHash = first.IDHash
		second.Subject = "mallory"
		if err := s.CreateSession(ctx, second); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("second CreateSession: err = %v, want ErrDuplicate", err)
		}
		got, err := s.GetSession(ctx, first.IDHash, t0)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		checkSession(t, "the first session, kept", got, first)
	})
	t.Run("refresh token", func(t *testing.T) {
		first := sampleRefresh("dup")
		if err := s.CreateRefreshToken(ctx, first); err != nil {
			t.Fatalf("first CreateRefreshToken: %v", err)
		}
		second := sampleRefresh("other")
		second.Hash = first.Hash
		second.Subject = "mallory"
		if err := s.CreateRefreshToken(ctx, second); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("second CreateRefreshToken: err = %v, want ErrDuplicate", err)
		}
		got, err := s.GetRefreshToken(ctx, first.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken: %v", err)
		}
		checkRefresh(t, "the first token, kept", got, first)
		// A second token in an existing family is no duplicate; it joins
		// the family, whose session and expiry it takes.
		sibling := sampleRefresh("sibling")
		sibling.FamilyID = first.FamilyID
		if err := s.CreateRefreshToken(ctx, sibling); err != nil {
			t.Fatalf("CreateRefreshToken in an existing family: %v", err)
		}
		want := sibling
		want.SessionIDHash, want.FamilyExpiresAt = first.SessionIDHash, first.FamilyExpiresAt
		got, err = s.GetRefreshToken(ctx, sibling.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken of the sibling: %v", err)
		}
		checkRefresh(t, "the sibling", got, want)
	})
}

func testMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Something else is stored, so that a backend returning "the first row"
	// would be caught.
	if err := s.CreateAuthRequest(ctx, sampleRequest("present")); err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	if err := s.CreateCode(ctx, sampleCode("present")); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	if err := s.CreateSession(ctx, sampleSession("present")); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	create(t, s, sampleRefresh("present"))
	for _, key := range []struct {
		name string
		b    []byte
	}{
		{"unknown", hash("unknown")},
		{"prefix of a stored key", sampleCode("present").Hash[:16]},
		{"empty", []byte{}},
		{"nil", nil},
	} {
		t.Run(key.name, func(t *testing.T) {
			if _, err := s.GetAuthRequest(ctx, key.b, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetAuthRequest: err = %v, want ErrNotFound", err)
			}
			if _, err := s.ConsumeAuthRequest(ctx, key.b, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ConsumeAuthRequest: err = %v, want ErrNotFound", err)
			}
			if _, err := s.ConsumeCode(ctx, key.b, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ConsumeCode: err = %v, want ErrNotFound", err)
			}
			if _, err := s.GetSession(ctx, key.b, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetSession: err = %v, want ErrNotFound", err)
			}
			if _, err := s.GetRefreshToken(ctx, key.b, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetRefreshToken: err = %v, want ErrNotFound", err)
			}
			next := nextRefresh(sampleRefresh("present"), "missing "+key.name)
			if err := s.RotateRefreshToken(ctx, key.b, next, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("RotateRefreshToken: err = %v, want ErrNotFound", err)
			}
		})
	}
}

func testEmptyKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, key := range []struct {
		name string
		b    []byte
	}{{"nil", nil}, {"empty", []byte{}}} {
		t.Run(key.name, func(t *testing.T) {
			r := sampleRequest("empty key")
			r.IDHash = key.b
			if err := s.CreateAuthRequest(ctx, r); err == nil {
				t.Error("CreateAuthRequest: err = nil, want an error")
			}
			c := sampleCode("empty key")
			c.Hash = key.b
			if err := s.CreateCode(ctx, c); err == nil {
				t.Error("CreateCode: err = nil, want an error")
			}
			sess := sampleSession("empty key")
			sess.IDHash = key.b
			if err := s.CreateSession(ctx, sess); err == nil {
				t.Error("CreateSession: err = nil, want an error")
			}
			rt := sampleRefresh("empty key")
			rt.Hash = key.b
			if err := s.CreateRefreshToken(ctx, rt); err == nil {
				t.Error("CreateRefreshToken: err = nil, want an error")
			}
		})
	}
	t.Run("empty family", func(t *testing.T) {
		r := sampleRefresh("empty family")
		r.FamilyID = ""
		if err := s.CreateRefreshToken(ctx, r); err == nil {
			t.Error("CreateRefreshToken: err = nil, want an error")
		}
	})
	t.Run("empty jti", func(t *testing.T) {
		if err := s.RevokeAccessToken(ctx, "", t0.Add(time.Hour)); err == nil {
			t.Error("RevokeAccessToken: err = nil, want an error")
		}
	})
}

func testSeparateKinds(t *testing.T, s store.Store) {
	ctx := t.Context()
	shared := hash("shared")
	r := sampleRequest("shared")
	r.IDHash = shared
	c := sampleCode("shared")
	c.Hash = shared
	if err := s.CreateAuthRequest(ctx, r); err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	if err := s.CreateCode(ctx, c); err != nil {
		t.Fatalf("CreateCode with a request's key: %v", err)
	}
	sess := sampleSession("shared")
	sess.IDHash = shared
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession with a request's key: %v", err)
	}
	rt := sampleRefresh("shared")
	rt.Hash = shared
	create(t, s, rt)
	if _, err := s.ConsumeCode(ctx, shared, t0); err != nil {
		t.Fatalf("ConsumeCode: %v", err)
	}
	if err := s.EndSession(ctx, shared, false); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if _, err := s.ConsumeAuthRequest(ctx, shared, t0); err != nil {
		t.Fatalf("ConsumeAuthRequest after the code and session with its key went: %v", err)
	}
	if _, err := s.GetRefreshToken(ctx, shared, t0); err != nil {
		t.Fatalf("GetRefreshToken after the others with its key went: %v", err)
	}
}

func testCopies(t *testing.T, s store.Store) {
	ctx := t.Context()
	t.Run("auth request", func(t *testing.T) {
		in := sampleRequest("copies")
		want := sampleRequest("copies")
		if err := s.CreateAuthRequest(ctx, in); err != nil {
			t.Fatalf("CreateAuthRequest: %v", err)
		}
		// The caller reuses its buffers after the create.
		in.BrowserHash[0] ^= 0xff
		in.CSRFHash[0] ^= 0xff
		in.Scope[0] = "admin"
		got, err := s.GetAuthRequest(ctx, want.IDHash, t0)
		if err != nil {
			t.Fatalf("GetAuthRequest: %v", err)
		}
		checkRequest(t, "after changing the created value", got, want)
		// The caller edits what it read.
		got.IDHash[0] ^= 0xff
		got.BrowserHash[0] ^= 0xff
		got.Scope[0] = "admin"
		again, err := s.ConsumeAuthRequest(ctx, want.IDHash, t0)
		if err != nil {
			t.Fatalf("ConsumeAuthRequest: %v", err)
		}
		checkRequest(t, "after changing the returned value", again, want)
	})
	t.Run("code", func(t *testing.T) {
		in := sampleCode("copies")
		in.Claims["org"] = map[string]any{"teams": []any{"x"}}
		want := sampleCode("copies")
		want.Claims["org"] = map[string]any{"teams": []any{"x"}}
		if err := s.CreateCode(ctx, in); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		in.Hash[0] ^= 0xff
		in.Scope[0] = "admin"
		in.Claims["role"] = "root"
		in.Claims["groups"].([]string)[0] = "wheel"
		in.Claims["org"].(map[string]any)["teams"].([]any)[0] = "y"
		got, err := s.ConsumeCode(ctx, want.Hash, t0)
		if err != nil {
			t.Fatalf("ConsumeCode: %v", err)
		}
		checkCode(t, "after changing the created value", got, want)
		// A used code is kept: what the first consumer did to its copy
		// must not show in the replay's.
		got.Hash[0] ^= 0xff
		got.SessionIDHash[0] ^= 0xff
		got.Scope[0] = "admin"
		got.Claims["role"] = "root"
		got.Claims["groups"].([]any)[0] = "wheel"
		again, err := s.ConsumeCode(ctx, want.Hash, t0)
		if !errors.Is(err, store.ErrReused) {
			t.Fatalf("second ConsumeCode: err = %v, want ErrReused", err)
		}
		checkCode(t, "after changing the returned value", again, want)
	})
	t.Run("session", func(t *testing.T) {
		in := sampleSession("copies")
		want := sampleSession("copies")
		if err := s.CreateSession(ctx, in); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		in.IDHash[0] ^= 0xff
		in.Claims["role"] = "root"
		in.Claims["groups"].([]string)[0] = "wheel"
		got, err := s.GetSession(ctx, want.IDHash, t0)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		checkSession(t, "after changing the created value", got, want)
		got.IDHash[0] ^= 0xff
		got.Claims["role"] = "root"
		got.Claims["groups"].([]any)[0] = "wheel"
		again, err := s.GetSession(ctx, want.IDHash, t0)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		checkSession(t, "after changing the returned value", again, want)
	})
	t.Run("refresh token", func(t *testing.T) {
		in := sampleRefresh("copies")
		want := sampleRefresh("copies")
		if err := s.CreateRefreshToken(ctx, in); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
		in.Hash[0] ^= 0xff
		in.SessionIDHash[0] ^= 0xff
		in.Scope[0] = "admin"
		in.Claims["role"] = "root"
		in.Claims["groups"].([]string)[0] = "wheel"
		got, err := s.GetRefreshToken(ctx, want.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken: %v", err)
		}
		checkRefresh(t, "after changing the created value", got, want)
		got.Hash[0] ^= 0xff
		got.SessionIDHash[0] ^= 0xff
		got.Scope[0] = "admin"
		got.Claims["role"] = "root"
		got.Claims["groups"].([]any)[0] = "wheel"
		again, err := s.GetRefreshToken(ctx, want.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken: %v", err)
		}
		checkRefresh(t, "after changing the returned value", again, want)
		// The successor handed to a rotation is copied too.
		next := nextRefresh(want, "copies next")
		wantNext := nextRefresh(want, "copies next")
		if err := s.RotateRefreshToken(ctx, want.Hash, next, t0); err != nil {
			t.Fatalf("RotateRefreshToken: %v", err)
		}
		next.Hash[0] ^= 0xff
		next.Scope[0] = "admin"
		got, err = s.GetRefreshToken(ctx, wantNext.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken of the next token: %v", err)
		}
		checkRefresh(t, "the next token after changing the rotated value", got, wantNext)
	})
}

func testEmptyValues(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		bytes  []byte
		scope  []string
		claims map[string]any
	}{
		{"nil", nil, nil, nil},
		{"empty", []byte{}, []string{}, map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := store.AuthRequest{
				IDHash:      hash("request empty " + tc.name),
				BrowserHash: tc.bytes,
				CSRFHash:    tc.bytes,
				Scope:       tc.scope,
				ExpiresAt:   t0.Add(time.Minute),
			}
			if err := s.CreateAuthRequest(ctx, r); err != nil {
				t.Fatalf("CreateAuthRequest: %v", err)
			}
			gr, err := s.ConsumeAuthRequest(ctx, r.IDHash, t0)
			if err != nil {
				t.Fatalf("ConsumeAuthRequest: %v", err)
			}
			checkRequest(t, "ConsumeAuthRequest", gr, r)

			c := store.AuthCode{
				Hash:      hash("code empty " + tc.name),
				Scope:     tc.scope,
				Claims:    tc.claims,
				ExpiresAt: t0.Add(time.Minute),
			}
			if err := s.CreateCode(ctx, c); err != nil {
				t.Fatalf("CreateCode: %v", err)
			}
			gc, err := s.ConsumeCode(ctx, c.Hash, t0)
			if err != nil {
				t.Fatalf("ConsumeCode: %v", err)
			}
			checkCode(t, "ConsumeCode", gc, c)

			sess := store.Session{
				IDHash:    hash("session empty " + tc.name),
				Claims:    tc.claims,
				ExpiresAt: t0.Add(time.Minute),
			}
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			gs, err := s.GetSession(ctx, sess.IDHash, t0)
			if err != nil {
				t.Fatalf("GetSession: %v", err)
			}
			checkSession(t, "GetSession", gs, sess)

			rt := store.RefreshToken{
				Hash:            hash("refresh empty " + tc.name),
				FamilyID:        "family empty " + tc.name,
				SessionIDHash:   tc.bytes,
				Scope:           tc.scope,
				Claims:          tc.claims,
				ExpiresAt:       t0.Add(time.Minute),
				FamilyExpiresAt: t0.Add(time.Hour),
			}
			create(t, s, rt)
			grt, err := s.GetRefreshToken(ctx, rt.Hash, t0)
			if err != nil {
				t.Fatalf("GetRefreshToken: %v", err)
			}
			checkRefresh(t, "GetRefreshToken", grt, rt)
		})
	}
}

// racers is how many goroutines try to consume one record at once.
const racers = 50

// race releases racers goroutines at once through a barrier, each calling
// consume, and checks that exactly one succeeded and every other one got
// loserErr (not a lock or busy error, which a server would turn into a 500).
func race(t *testing.T, loserErr error, consume func(i int) error) {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = consume(i)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loserErr):
			t.Errorf("a losing consume: err = %v, want %v", err, loserErr)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent consumes won, want exactly 1", wins, racers)
	}
}

// rounds repeats each race, because one lucky schedule proves little.
const rounds = 5

func testConcurrentConsumeCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range rounds {
		want := sampleCode("race " + string(rune('a'+round)))
		if err := s.CreateCode(ctx, want); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		// Every goroutine, winner or loser, gets the code back.
		got := make([]store.AuthCode, racers)
		race(t, store.ErrReused, func(i int) error {
			var err error
			got[i], err = s.ConsumeCode(ctx, want.Hash, t0)
			return err
		})
		for _, c := range got {
			checkCode(t, "a racer's code", c, want)
		}
	}
}

func testConcurrentConsumeRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range rounds {
		want := sampleRequest("race " + string(rune('a'+round)))
		if err := s.CreateAuthRequest(ctx, want); err != nil {
			t.Fatalf("CreateAuthRequest: %v", err)
		}
		var mu sync.Mutex
		var won store.AuthRequest
		race(t, store.ErrNotFound, func(int) error {
			r, err := s.ConsumeAuthRequest(ctx, want.IDHash, t0)
			if err == nil {
				mu.Lock()
				won = r
				mu.Unlock()
			}
			return err
		})
		checkRequest(t, "the winner's request", won, want)
	}
}

func testConcurrentCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := sampleCode("create race")
	start := make(chan struct{})
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateCode(ctx, c)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrDuplicate):
			t.Errorf("a losing create: err = %v, want ErrDuplicate", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent creates won, want exactly 1", wins, racers)
	}
}

func testDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0
	// before is earlier than every expiry below: read there, only a record
	// that is really gone gives ErrNotFound.
	before := now.Add(-2 * time.Hour)
	type rec struct {
		name    string
		exp     time.Time
		expired bool
	}
	recs := []rec{
		{"long gone", now.Add(-time.Hour), true},
		{"just gone", now.Add(-time.Millisecond), true},
		{"expires now", now, true},
		{"1ms left", now.Add(time.Millisecond), false},
		{"an hour left", now.Add(time.Hour), false},
	}
	var wantDeleted int64
	// A check reads one record after DeleteExpired: nil if it is there.
	type check struct {
		what    string
		expired bool
		read    func() error
	}
	var checks []check
	for _, r := range recs {
		count := func(n int64) {
			if r.expired {
				wantDeleted += n
			}
		}
		ar := sampleRequest(r.name)
		ar.ExpiresAt = r.exp
		if err := s.CreateAuthRequest(ctx, ar); err != nil {
			t.Fatalf("CreateAuthRequest %q: %v", r.name, err)
		}
		count(1)
		checks = append(checks, check{"request " + r.name, r.expired, func() error {
			_, err := s.GetAuthRequest(ctx, ar.IDHash, before)
			return err
		}})

		c := sampleCode(r.name)
		c.ExpiresAt = r.exp
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode %q: %v", r.name, err)
		}
		count(1)
		checks = append(checks, check{"code " + r.name, r.expired, func() error {
			_, err := s.ConsumeCode(ctx, c.Hash, before)
			return err
		}})

		// A used code is kept for replay detection until it expires.
		used := sampleCode("used " + r.name)
		used.ExpiresAt = r.exp
		if err := s.CreateCode(ctx, used); err != nil {
			t.Fatalf("CreateCode %q: %v", r.name, err)
		}
		if _, err := s.ConsumeCode(ctx, used.Hash, before); err != nil {
			t.Fatalf("ConsumeCode %q: %v", r.name, err)
		}
		count(1)
		checks = append(checks, check{"used code " + r.name, r.expired, func() error {
			if _, err := s.ConsumeCode(ctx, used.Hash, before); !errors.Is(err, store.ErrReused) {
				return err
			}
			return nil
		}})

		sess := sampleSession(r.name)
		sess.ExpiresAt = r.exp
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession %q: %v", r.name, err)
		}
		count(1)
		checks = append(checks, check{"session " + r.name, r.expired, func() error {
			_, err := s.GetSession(ctx, sess.IDHash, before)
			return err
		}})

		// A token past its idle expiry goes; its family, still live, stays.
		idle := sampleRefresh("idle " + r.name)
		idle.ExpiresAt = r.exp
		create(t, s, idle)
		count(1)
		checks = append(checks, check{"idle-expired refresh token " + r.name, r.expired, func() error {
			_, err := s.GetRefreshToken(ctx, idle.Hash, before)
			return err
		}})

		// A family past its absolute expiry goes with its tokens, used
		// ones included.
		fam := sampleRefresh("family " + r.name)
		fam.ExpiresAt = now.Add(time.Hour)
		fam.FamilyExpiresAt = r.exp
		create(t, s, fam)
		famNext := nextRefresh(fam, "family next "+r.name)
		if err := s.RotateRefreshToken(ctx, fam.Hash, famNext, before); err != nil {
			t.Fatalf("RotateRefreshToken %q: %v", r.name, err)
		}
		count(3)
		checks = append(checks, check{"token of an expired family " + r.name, r.expired, func() error {
			_, err := s.GetRefreshToken(ctx, famNext.Hash, before)
			return err
		}})

		if err := s.RevokeAccessToken(ctx, "jti "+r.name, r.exp); err != nil {
			t.Fatalf("RevokeAccessToken %q: %v", r.name, err)
		}
		count(1)
		checks = append(checks, check{"revoked jti " + r.name, r.expired, func() error {
			ok, err := s.AccessTokenRevoked(ctx, "jti "+r.name)
			if err == nil && !ok {
				return store.ErrNotFound
			}
			return err
		}})
	}
	// The tokens of a revoked family go at once, live or not; the family
	// record stays until it expires, so that it stays revoked.
	revoked := sampleRefresh("revoked")
	create(t, s, revoked)
	if err := s.RevokeFamily(ctx, revoked.FamilyID); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	wantDeleted++

	n, err := s.DeleteExpired(ctx, now)
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n != wantDeleted {
		t.Errorf("DeleteExpired = %d, want %d", n, wantDeleted)
	}
	for _, c := range checks {
		switch err := c.read(); {
		case c.expired && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s expired but is still there (err = %v)", c.what, err)
		case !c.expired && err != nil:
			t.Errorf("%s is live but was removed: %v", c.what, err)
		}
	}
	late := sampleRefresh("revoked late")
	late.FamilyID = revoked.FamilyID
	create(t, s, late)
	if _, err := s.GetRefreshToken(ctx, late.Hash, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a token created after DeleteExpired in a revoked family: err = %v, want ErrNotFound", err)
	}
	// late itself is gone at the next sweep, and nothing else.
	if n, err := s.DeleteExpired(ctx, now); err != nil || n != 1 {
		t.Errorf("second DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	if n, err := s.DeleteExpired(ctx, now); err != nil || n != 0 {
		t.Errorf("third DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func testCancelled(t *testing.T, s store.Store) {
	r := sampleRequest("cancel")
	c := sampleCode("cancel")
	sess := sampleSession("cancel")
	rt := sampleRefresh("cancel")
	if err := s.CreateAuthRequest(t.Context(), r); err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	if err := s.CreateCode(t.Context(), c); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	create(t, s, rt)
	if err := s.RevokeAccessToken(t.Context(), "jti cancel", t0.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeAccessToken: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", op, err)
		}
	}
	check("CreateAuthRequest", s.CreateAuthRequest(ctx, sampleRequest("cancel new")))
	check("CreateCode", s.CreateCode(ctx, sampleCode("cancel new")))
	check("CreateSession", s.CreateSession(ctx, sampleSession("cancel new")))
	check("CreateRefreshToken", s.CreateRefreshToken(ctx, sampleRefresh("cancel new")))
	check("RotateRefreshToken", s.RotateRefreshToken(ctx, rt.Hash, nextRefresh(rt, "cancel next"), t0))
	check("RevokeFamily", s.RevokeFamily(ctx, rt.FamilyID))
	check("EndSession", s.EndSession(ctx, sess.IDHash, true))
	check("RenewSession", s.RenewSession(ctx, sess.IDHash, sampleSession("cancel renewed"), t0))
	check("RevokeAccessToken", s.RevokeAccessToken(ctx, "jti cancel new", t0.Add(time.Hour)))
	_, err := s.GetAuthRequest(ctx, r.IDHash, t0)
	check("GetAuthRequest", err)
	_, err = s.ConsumeAuthRequest(ctx, r.IDHash, t0)
	check("ConsumeAuthRequest", err)
	_, err = s.ConsumeCode(ctx, c.Hash, t0)
	check("ConsumeCode", err)
	_, err = s.GetSession(ctx, sess.IDHash, t0)
	check("GetSession", err)
	_, err = s.GetRefreshToken(ctx, rt.Hash, t0)
	check("GetRefreshToken", err)
	// A revocation check that cannot run must not say "not revoked".
	_, err = s.AccessTokenRevoked(ctx, "jti cancel")
	check("AccessTokenRevoked", err)
	_, err = s.DeleteExpired(ctx, t0.Add(48*time.Hour))
	check("DeleteExpired", err)

	// Nothing happened: the old records are intact, the new ones absent.
	live := t.Context()
	if _, err := s.ConsumeAuthRequest(live, r.IDHash, t0); err != nil {
		t.Errorf("ConsumeAuthRequest after the cancelled calls: %v", err)
	}
	if _, err := s.ConsumeCode(live, c.Hash, t0); err != nil {
		t.Errorf("ConsumeCode after the cancelled calls: %v", err)
	}
	if _, err := s.GetSession(live, sess.IDHash, t0); err != nil {
		t.Errorf("GetSession after the cancelled calls: %v", err)
	}
	if got, err := s.GetRefreshToken(live, rt.Hash, t0); err != nil || !got.UsedAt.IsZero() {
		t.Errorf("GetRefreshToken after the cancelled calls = UsedAt %v, err %v; want unused, nil", got.UsedAt, err)
	}
	if ok, err := s.AccessTokenRevoked(live, "jti cancel"); err != nil || !ok {
		t.Errorf("AccessTokenRevoked after the cancelled calls = %v, %v; want true, nil", ok, err)
	}
	if _, err := s.GetAuthRequest(live, sampleRequest("cancel new").IDHash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("request created with a cancelled context: err = %v, want ErrNotFound", err)
	}
	if _, err := s.ConsumeCode(live, sampleCode("cancel new").Hash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("code created with a cancelled context: err = %v, want ErrNotFound", err)
	}
	for _, name := range []string{"cancel new", "cancel renewed"} {
		if _, err := s.GetSession(live, sampleSession(name).IDHash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %q created with a cancelled context: err = %v, want ErrNotFound", name, err)
		}
	}
	for _, h := range [][]byte{sampleRefresh("cancel new").Hash, nextRefresh(rt, "cancel next").Hash} {
		if _, err := s.GetRefreshToken(live, h, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("refresh token stored with a cancelled context: err = %v, want ErrNotFound", err)
		}
	}
	if ok, err := s.AccessTokenRevoked(live, "jti cancel new"); err != nil || ok {
		t.Errorf("jti revoked with a cancelled context: AccessTokenRevoked = %v, %v; want false, nil", ok, err)
	}
}

func checkRequest(t *testing.T, what string, got, want store.AuthRequest) {
	t.Helper()
	if !bytes.Equal(got.IDHash, want.IDHash) ||
		!bytes.Equal(got.BrowserHash, want.BrowserHash) ||
		!bytes.Equal(got.CSRFHash, want.CSRFHash) ||
		got.ClientID != want.ClientID ||
		got.RedirectURI != want.RedirectURI ||
		got.State != want.State ||
		got.Challenge != want.Challenge ||
		got.Nonce != want.Nonce ||
		!slices.Equal(got.Scope, want.Scope) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
	checkTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

func checkCode(t *testing.T, what string, got, want store.AuthCode) {
	t.Helper()
	if !bytes.Equal(got.Hash, want.Hash) ||
		got.ClientID != want.ClientID ||
		got.RedirectURI != want.RedirectURI ||
		got.Challenge != want.Challenge ||
		got.Subject != want.Subject ||
		got.Nonce != want.Nonce ||
		!slices.Equal(got.Scope, want.Scope) ||
		got.FamilyID != want.FamilyID ||
		!bytes.Equal(got.SessionIDHash, want.SessionIDHash) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
	checkClaims(t, got.Claims, want.Claims)
	checkTime(t, what+" AuthTime", got.AuthTime, want.AuthTime)
	checkTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// checkTime applies the store's time contract: the same instant truncated to
// the millisecond, in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	want = want.Truncate(time.Millisecond)
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
	if want.IsZero() && !got.IsZero() {
		t.Errorf("%s = %v, want the zero time", what, got)
	}
}

// checkClaims applies the store's claims contract: got must be exactly what
// encoding/json makes of want (float64 numbers, []any arrays), with nil and
// empty alike.
func checkClaims(t *testing.T, got, want map[string]any) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("encode the wanted claims: %v", err)
	}
	var norm map[string]any
	if err := json.Unmarshal(b, &norm); err != nil {
		t.Fatalf("decode the wanted claims: %v", err)
	}
	if !reflect.DeepEqual(got, norm) {
		t.Errorf("claims:\n got  %#v\n want %#v", got, norm)
	}
}
