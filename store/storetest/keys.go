package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func testDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
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
		got, err := consume(ctx, s, first.Hash, t0)
		if err != nil {
			t.Fatalf("consume: %v", err)
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
	if err := useRequest(ctx, s, requestID("present"), t0.Add(time.Minute), t0); err != nil {
		t.Fatalf("useRequest: %v", err)
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
			if _, err := consume(ctx, s, key.b, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("consume: err = %v, want ErrNotFound", err)
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
			if err := useRequest(ctx, s, key.b, t0.Add(time.Minute), t0); err == nil || errors.Is(err, store.ErrReused) {
				t.Errorf("useRequest: err = %v, want an error (not ErrReused)", err)
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
	c := sampleCode("shared")
	c.Hash = shared
	if err := useRequest(ctx, s, shared, t0.Add(time.Minute), t0); err != nil {
		t.Fatalf("useRequest: %v", err)
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
	if _, err := consume(ctx, s, shared, t0); err != nil {
		t.Fatalf("consume: %v", err)
	}
	if err := s.EndSession(ctx, shared, false); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if err := useRequest(ctx, s, shared, t0.Add(time.Minute), t0); !errors.Is(err, store.ErrReused) {
		t.Fatalf("useRequest after the code and session with its key went: err = %v, want ErrReused", err)
	}
	if _, err := s.GetRefreshToken(ctx, shared, t0); err != nil {
		t.Fatalf("GetRefreshToken after the others with its key went: %v", err)
	}
}
