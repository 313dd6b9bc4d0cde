package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func testExpiry(t *testing.T, s store.Store) {
	exp := t0.Add(time.Minute)
	ops := []struct {
		name string
		// run creates a record expiring at exp and reads it at now.
		run func(t *testing.T, name string, now time.Time) error
	}{
		{"CompleteSignIn of a used request", func(t *testing.T, name string, now time.Time) error {
			id := requestID(name)
			if err := useRequest(t.Context(), s, id, exp, exp.Add(-2*time.Hour)); err != nil {
				t.Fatalf("first useRequest: %v", err)
			}
			// Until expiry a second use is ErrReused; from then on the
			// record counts as absent, and the use succeeds.
			switch err := useRequest(t.Context(), s, id, exp.Add(time.Hour), now); {
			case errors.Is(err, store.ErrReused):
				return nil
			case err == nil:
				return store.ErrNotFound
			default:
				return err
			}
		}},
		{"RedeemCode", func(t *testing.T, name string, now time.Time) error {
			c := sampleCode(name)
			c.ExpiresAt = exp
			if err := s.CreateCode(t.Context(), c); err != nil {
				t.Fatalf("CreateCode: %v", err)
			}
			_, err := consume(t.Context(), s, c.Hash, now)
			return err
		}},
		{"RedeemCode of a used code", func(t *testing.T, name string, now time.Time) error {
			c := sampleCode(name)
			c.ExpiresAt = exp
			if err := s.CreateCode(t.Context(), c); err != nil {
				t.Fatalf("CreateCode: %v", err)
			}
			if _, err := consume(t.Context(), s, c.Hash, t0); err != nil {
				t.Fatalf("first consume: %v", err)
			}
			// Until expiry a replay is ErrReused, not ErrNotFound.
			if _, err := consume(t.Context(), s, c.Hash, now); !errors.Is(err, store.ErrReused) {
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
		id := requestID(r.name)
		if err := useRequest(ctx, s, id, r.exp, before); err != nil {
			t.Fatalf("useRequest %q: %v", r.name, err)
		}
		count(2) // the request and its sign-in's code, which expires with it
		checks = append(checks, check{"used request " + r.name, r.expired, func() error {
			// Still recorded: a second use is refused. Gone: it succeeds
			// (and records the id until after now, out of the next sweeps).
			switch err := useRequest(ctx, s, id, now.Add(time.Hour), before); {
			case errors.Is(err, store.ErrReused):
				return nil
			case err == nil:
				return store.ErrNotFound
			default:
				return err
			}
		}})

		c := sampleCode(r.name)
		c.ExpiresAt = r.exp
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode %q: %v", r.name, err)
		}
		count(1)
		checks = append(checks, check{"code " + r.name, r.expired, func() error {
			_, err := consume(ctx, s, c.Hash, before)
			return err
		}})

		// A used code is kept for replay detection until it expires.
		used := sampleCode("used " + r.name)
		used.ExpiresAt = r.exp
		if err := s.CreateCode(ctx, used); err != nil {
			t.Fatalf("CreateCode %q: %v", r.name, err)
		}
		if _, err := consume(ctx, s, used.Hash, before); err != nil {
			t.Fatalf("consume %q: %v", r.name, err)
		}
		count(1)
		checks = append(checks, check{"used code " + r.name, r.expired, func() error {
			if _, err := consume(ctx, s, used.Hash, before); !errors.Is(err, store.ErrReused) {
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
