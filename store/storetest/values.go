package storetest

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

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
			got, err := consume(t.Context(), s, c.Hash, t0)
			if err != nil {
				t.Fatalf("consume: %v", err)
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
			if _, err := consume(t.Context(), s, c.Hash, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("consume of the refused code: err = %v, want ErrNotFound", err)
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
			got, err := consume(ctx, s, c.Hash, t0)
			if err != nil {
				t.Fatalf("consume: %v", err)
			}
			checkTime(t, "AuthTime", got.AuthTime, c.AuthTime)
			checkTime(t, "ExpiresAt", got.ExpiresAt, c.ExpiresAt)

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

func testCopies(t *testing.T, s store.Store) {
	ctx := t.Context()
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
		in.Resources[0] = "https://evil.example"
		in.Claims["role"] = "root"
		in.Claims["groups"].([]string)[0] = "wheel"
		in.Claims["org"].(map[string]any)["teams"].([]any)[0] = "y"
		got, err := consume(ctx, s, want.Hash, t0)
		if err != nil {
			t.Fatalf("consume: %v", err)
		}
		checkCode(t, "after changing the created value", got, want)
		// A used code is kept: what the first consumer did to its copy
		// must not show in the replay's.
		got.Hash[0] ^= 0xff
		got.SessionIDHash[0] ^= 0xff
		got.Scope[0] = "admin"
		got.Resources[0] = "https://evil.example"
		got.Claims["role"] = "root"
		got.Claims["groups"].([]any)[0] = "wheel"
		again, err := consume(ctx, s, want.Hash, t0)
		if !errors.Is(err, store.ErrReused) {
			t.Fatalf("second consume: err = %v, want ErrReused", err)
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
		in.Resources[0] = "https://evil.example"
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
		got.Resources[0] = "https://evil.example"
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
		next.Resources[0] = "https://evil.example"
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
			c := store.AuthCode{
				Hash:      hash("code empty " + tc.name),
				Scope:     tc.scope,
				Claims:    tc.claims,
				ExpiresAt: t0.Add(time.Minute),
			}
			if err := s.CreateCode(ctx, c); err != nil {
				t.Fatalf("CreateCode: %v", err)
			}
			gc, err := consume(ctx, s, c.Hash, t0)
			if err != nil {
				t.Fatalf("consume: %v", err)
			}
			checkCode(t, "consume", gc, c)

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
