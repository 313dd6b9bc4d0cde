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
		{"code can be consumed once", testCodeLifecycle},
		{"claims come back as JSON decodes them", testClaimsRoundTrip},
		{"claims JSON cannot encode are refused", testClaimsNotJSON},
		{"times are kept to the millisecond in UTC", testTimes},
		{"records expire at ExpiresAt", testExpiry},
		{"a taken key is refused with ErrDuplicate", testDuplicate},
		{"a missing key gives ErrNotFound", testMissing},
		{"an empty key is refused", testEmptyKey},
		{"requests and codes do not share keys", testSeparateKinds},
		{"records are copied in and out", testCopies},
		{"nil and empty slices round-trip as empty", testEmptyValues},
		{"concurrent consumes of one code: exactly one wins", testConcurrentConsumeCode},
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
		Scope:     []string{"openid", "email"},
		Nonce:     "nonce-" + name,
		AuthTime:  t0.Add(-time.Minute),
		ExpiresAt: t0.Add(time.Minute),
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
	if _, err := s.ConsumeCode(ctx, want.Hash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second ConsumeCode: err = %v, want ErrNotFound", err)
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
		})
	}
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
	if _, err := s.ConsumeCode(ctx, shared, t0); err != nil {
		t.Fatalf("ConsumeCode: %v", err)
	}
	if _, err := s.ConsumeAuthRequest(ctx, shared, t0); err != nil {
		t.Fatalf("ConsumeAuthRequest after the code with its key was consumed: %v", err)
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
		})
	}
}

// racers is how many goroutines try to consume one record at once.
const racers = 50

// race releases racers goroutines at once through a barrier, each calling
// consume, and checks that exactly one succeeded and every other one got
// ErrNotFound (not a lock or busy error, which a server would turn into a 500).
func race(t *testing.T, consume func() error) {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = consume()
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("a losing consume: err = %v, want ErrNotFound", err)
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
		var mu sync.Mutex
		var won store.AuthCode
		race(t, func() error {
			c, err := s.ConsumeCode(ctx, want.Hash, t0)
			if err == nil {
				mu.Lock()
				won = c
				mu.Unlock()
			}
			return err
		})
		checkCode(t, "the winner's code", won, want)
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
		race(t, func() error {
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
	for _, r := range recs {
		ar := sampleRequest(r.name)
		ar.ExpiresAt = r.exp
		if err := s.CreateAuthRequest(ctx, ar); err != nil {
			t.Fatalf("CreateAuthRequest %q: %v", r.name, err)
		}
		c := sampleCode(r.name)
		c.ExpiresAt = r.exp
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode %q: %v", r.name, err)
		}
		if r.expired {
			wantDeleted += 2
		}
	}
	n, err := s.DeleteExpired(ctx, now)
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n != wantDeleted {
		t.Errorf("DeleteExpired = %d, want %d", n, wantDeleted)
	}
	// Read each record at a time before every expiry: only a record that is
	// really gone gives ErrNotFound there.
	before := now.Add(-2 * time.Hour)
	for _, r := range recs {
		_, errR := s.GetAuthRequest(ctx, sampleRequest(r.name).IDHash, before)
		_, errC := s.ConsumeCode(ctx, sampleCode(r.name).Hash, before)
		for kind, err := range map[string]error{"request": errR, "code": errC} {
			switch {
			case r.expired && !errors.Is(err, store.ErrNotFound):
				t.Errorf("%s %q expired but is still there (err = %v)", kind, r.name, err)
			case !r.expired && err != nil:
				t.Errorf("%s %q is live but was removed: %v", kind, r.name, err)
			}
		}
	}
	if n, err := s.DeleteExpired(ctx, now); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func testCancelled(t *testing.T, s store.Store) {
	r := sampleRequest("cancel")
	c := sampleCode("cancel")
	if err := s.CreateAuthRequest(t.Context(), r); err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	if err := s.CreateCode(t.Context(), c); err != nil {
		t.Fatalf("CreateCode: %v", err)
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
	_, err := s.GetAuthRequest(ctx, r.IDHash, t0)
	check("GetAuthRequest", err)
	_, err = s.ConsumeAuthRequest(ctx, r.IDHash, t0)
	check("ConsumeAuthRequest", err)
	_, err = s.ConsumeCode(ctx, c.Hash, t0)
	check("ConsumeCode", err)
	_, err = s.DeleteExpired(ctx, t0.Add(time.Hour))
	check("DeleteExpired", err)

	// Nothing happened: the old records are intact, the new ones absent.
	live := t.Context()
	if _, err := s.ConsumeAuthRequest(live, r.IDHash, t0); err != nil {
		t.Errorf("ConsumeAuthRequest after the cancelled calls: %v", err)
	}
	if _, err := s.ConsumeCode(live, c.Hash, t0); err != nil {
		t.Errorf("ConsumeCode after the cancelled calls: %v", err)
	}
	if _, err := s.GetAuthRequest(live, sampleRequest("cancel new").IDHash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("request created with a cancelled context: err = %v, want ErrNotFound", err)
	}
	if _, err := s.ConsumeCode(live, sampleCode("cancel new").Hash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("code created with a cancelled context: err = %v, want ErrNotFound", err)
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
		!slices.Equal(got.Scope, want.Scope) {
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
