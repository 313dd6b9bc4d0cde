package storetest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func sampleSession(name string) store.Session {
	return store.Session{
		IDHash:    hash("session " + name),
		Subject:   "alice",
		Claims:    map[string]any{"role": "admin", "groups": []string{"a"}},
		AuthTime:  t0.Add(-time.Minute),
		ExpiresAt: t0.Add(time.Hour),
	}
}

func testSessionLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleSession("a")
	other := sampleSession("other")
	for _, sess := range []store.Session{want, other} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	// Reading does not use the session up: it carries many sign-ons.
	for i := range 2 {
		got, err := s.GetSession(ctx, want.IDHash, t0)
		if err != nil {
			t.Fatalf("GetSession #%d: %v", i+1, err)
		}
		checkSession(t, "GetSession", got, want)
	}
	for i := range 2 {
		// Signing out twice (two tabs) is not an error.
		if err := s.EndSession(ctx, want.IDHash, false); err != nil {
			t.Fatalf("EndSession #%d: %v", i+1, err)
		}
		if _, err := s.GetSession(ctx, want.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession after EndSession #%d: err = %v, want ErrNotFound", i+1, err)
		}
	}
	if err := s.EndSession(ctx, hash("never created"), true); err != nil {
		t.Errorf("EndSession of an unknown session: %v", err)
	}
	got, err := s.GetSession(ctx, other.IDHash, t0)
	if err != nil {
		t.Fatalf("GetSession of the other session: %v", err)
	}
	checkSession(t, "the other session, left alone", got, other)
}

func testEndSessionRevokes(t *testing.T, s store.Store) {
	ctx := t.Context()
	create := func(r store.RefreshToken) {
		t.Helper()
		if err := s.CreateRefreshToken(ctx, r); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
	}
	ended := sampleSession("ended")
	kept := sampleSession("kept")
	for _, sess := range []store.Session{ended, kept} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	// Two grants in the ended session, one already rotated; one grant in
	// another session; one outside any session.
	inA := sampleRefresh("in ended a")
	inA.SessionIDHash = ended.IDHash
	inB := sampleRefresh("in ended b")
	inB.SessionIDHash = ended.IDHash
	inB2 := nextRefresh(inB, "in ended b2")
	inOther := sampleRefresh("in kept")
	inOther.SessionIDHash = kept.IDHash
	noSession := sampleRefresh("no session")
	noSession.SessionIDHash = nil
	for _, r := range []store.RefreshToken{inA, inB, inOther, noSession} {
		create(r)
	}
	if err := s.RotateRefreshToken(ctx, inB.Hash, inB2, t0); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}

	if err := s.EndSession(ctx, kept.IDHash, false); err != nil {
		t.Fatalf("EndSession without revoking: %v", err)
	}
	if err := s.EndSession(ctx, ended.IDHash, true); err != nil {
		t.Fatalf("EndSession with revoking: %v", err)
	}
	// Sign-out from a browser without a session names no family.
	for _, key := range [][]byte{nil, {}} {
		if err := s.EndSession(ctx, key, true); err != nil {
			t.Errorf("EndSession(%q, true): %v", key, err)
		}
	}
	for _, tc := range []struct {
		name string
		hash []byte
		want error
	}{
		{"first grant of the ended session", inA.Hash, store.ErrNotFound},
		{"rotated grant of the ended session, old token", inB.Hash, store.ErrNotFound},
		{"rotated grant of the ended session, new token", inB2.Hash, store.ErrNotFound},
		{"grant of a session ended without revoking", inOther.Hash, nil},
		{"grant outside any session", noSession.Hash, nil},
	} {
		if _, err := s.GetRefreshToken(ctx, tc.hash, t0); !errors.Is(err, tc.want) {
			t.Errorf("%s: GetRefreshToken err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := s.RotateRefreshToken(ctx, inA.Hash, nextRefresh(inA, "in ended a2"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefreshToken in the ended session: err = %v, want ErrNotFound", err)
	}
	for _, sess := range []store.Session{ended, kept} {
		if _, err := s.GetSession(ctx, sess.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession after EndSession: err = %v, want ErrNotFound", err)
		}
	}
}

func checkSession(t *testing.T, what string, got, want store.Session) {
	t.Helper()
	if !bytes.Equal(got.IDHash, want.IDHash) || got.Subject != want.Subject {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
	checkClaims(t, got.Claims, want.Claims)
	checkTime(t, what+" AuthTime", got.AuthTime, want.AuthTime)
	checkTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// testRenewSession is a user signing in again in a browser that holds their
// live session: the browser gets a new session id, and every grant of the
// old session follows it, so that signing out of the new session revokes
// them too.
func testRenewSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := sampleSession("renewed")
	other := sampleSession("other")
	for _, sess := range []store.Session{old, other} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	// Two grants in the old session, one already rotated; one grant in
	// another session; one outside any session.
	inA := sampleRefresh("in old a")
	inA.SessionIDHash = old.IDHash
	inB := sampleRefresh("in old b")
	inB.SessionIDHash = old.IDHash
	inB2 := nextRefresh(inB, "in old b2")
	inOther := sampleRefresh("in other")
	inOther.SessionIDHash = other.IDHash
	noSession := sampleRefresh("no session")
	noSession.SessionIDHash = nil
	for _, r := range []store.RefreshToken{inA, inB, inOther, noSession} {
		create(t, s, r)
	}
	if err := s.RotateRefreshToken(ctx, inB.Hash, inB2, t0); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	// A code issued in the old session just before the new sign-in, not yet
	// redeemed; one in another session; one outside any session.
	codeOld := sampleCode("in old")
	codeOld.SessionIDHash = old.IDHash
	codeOther := sampleCode("in other")
	codeOther.SessionIDHash = other.IDHash
	codeNone := sampleCode("no session")
	codeNone.SessionIDHash = nil
	for _, c := range []store.AuthCode{codeOld, codeOther, codeNone} {
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
	}

	next := sampleSession("renewal")
	next.Subject = "alice"
	next.Claims = map[string]any{"role": "auditor"}
	next.AuthTime = t0
	next.ExpiresAt = t0.Add(2 * time.Hour)
	if err := s.RenewSession(ctx, old.IDHash, next, t0); err != nil {
		t.Fatalf("RenewSession: %v", err)
	}
	if _, err := s.GetSession(ctx, old.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession of the old session after RenewSession: err = %v, want ErrNotFound", err)
	}
	got, err := s.GetSession(ctx, next.IDHash, t0)
	if err != nil {
		t.Fatalf("GetSession of the new session: %v", err)
	}
	checkSession(t, "the new session", got, next)
	// Renewing the old session again finds nothing: it is gone.
	again := sampleSession("renewal again")
	if err := s.RenewSession(ctx, old.IDHash, again, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second RenewSession of the old session: err = %v, want ErrNotFound", err)
	}

	// The grants still work, and now name the new session.
	for _, tc := range []struct {
		name string
		r    store.RefreshToken
		want []byte
	}{
		{"first grant of the old session", inA, next.IDHash},
		{"rotated grant of the old session", inB2, next.IDHash},
		{"grant of another session", inOther, other.IDHash},
		{"grant outside any session", noSession, nil},
	} {
		got, err := s.GetRefreshToken(ctx, tc.r.Hash, t0)
		if err != nil {
			t.Errorf("%s: GetRefreshToken: %v", tc.name, err)
			continue
		}
		if !bytes.Equal(got.SessionIDHash, tc.want) {
			t.Errorf("%s: SessionIDHash = %x, want %x", tc.name, got.SessionIDHash, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		c    store.AuthCode
		want []byte
	}{
		{"code of the old session", codeOld, next.IDHash},
		{"code of another session", codeOther, other.IDHash},
		{"code outside any session", codeNone, nil},
	} {
		got, err := consume(ctx, s, tc.c.Hash, t0)
		if err != nil {
			t.Errorf("%s: consume: %v", tc.name, err)
			continue
		}
		if !bytes.Equal(got.SessionIDHash, tc.want) {
			t.Errorf("%s: SessionIDHash = %x, want %x", tc.name, got.SessionIDHash, tc.want)
		}
	}

	// Signing out of the new session revokes the old session's grants.
	if err := s.EndSession(ctx, next.IDHash, true); err != nil {
		t.Fatalf("EndSession of the new session: %v", err)
	}
	for _, tc := range []struct {
		name string
		hash []byte
		want error
	}{
		{"first grant of the old session", inA.Hash, store.ErrNotFound},
		{"rotated grant of the old session, new token", inB2.Hash, store.ErrNotFound},
		{"grant of another session", inOther.Hash, nil},
		{"grant outside any session", noSession.Hash, nil},
	} {
		if _, err := s.GetRefreshToken(ctx, tc.hash, t0); !errors.Is(err, tc.want) {
			t.Errorf("%s after signing out of the new session: GetRefreshToken err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// testRenewSessionRefused checks that a renewal that cannot happen changes
// nothing: no new session, and the old one's grants stay where they were.
func testRenewSessionRefused(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		// setup stores what it needs and returns the session to renew, the
		// session to renew it into and the time to renew at.
		setup func(t *testing.T, name string) (oldIDHash []byte, next store.Session, now time.Time)
		want  error // nil: any error
		// oldLive says whether the old session must still be there after.
		oldLive bool
	}{
		{"missing old session", func(t *testing.T, name string) ([]byte, store.Session, time.Time) {
			return hash("session never created " + name), sampleSession(name + " next"), t0
		}, store.ErrNotFound, false},
		{"ended old session", func(t *testing.T, name string) ([]byte, store.Session, time.Time) {
			old := sampleSession(name)
			if err := s.CreateSession(ctx, old); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			if err := s.EndSession(ctx, old.IDHash, false); err != nil {
				t.Fatalf("EndSession: %v", err)
			}
			return old.IDHash, sampleSession(name + " next"), t0
		}, store.ErrNotFound, false},
		{"old session expired at now", func(t *testing.T, name string) ([]byte, store.Session, time.Time) {
			old := sampleSession(name)
			if err := s.CreateSession(ctx, old); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			return old.IDHash, sampleSession(name + " next"), old.ExpiresAt
		}, store.ErrNotFound, false},
		{"empty old id", func(t *testing.T, name string) ([]byte, store.Session, time.Time) {
			return nil, sampleSession(name + " next"), t0
		}, store.ErrNotFound, false},
		{"new id taken", func(t *testing.T, name string) ([]byte, store.Session, time.Time) {
			old := sampleSession(name)
			taken := sampleSession(name + " taken")
			for _, sess := range []store.Session{old, taken} {
				if err := s.CreateSession(ctx, sess); err != nil {
					t.Fatalf("CreateSession: %v", err)
				}
			}
			next := sampleSession(name + " next")
			next.IDHash = taken.IDHash
			return old.IDHash, next, t0
		}, store.ErrDuplicate, true},
		{"new id is the old one", func(t *testing.T, name string) ([]byte, store.Session, time.Time) {
			old := sampleSession(name)
			if err := s.CreateSession(ctx, old); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			return old.IDHash, old, t0
		}, store.ErrDuplicate, true},
		{"empty new id", func(t *testing.T, name string) ([]byte, store.Session, time.Time) {
			old := sampleSession(name)
			if err := s.CreateSession(ctx, old); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			next := sampleSession(name + " next")
			next.IDHash = nil
			return old.IDHash, next, t0
		}, nil, true},
		{"claims JSON cannot encode", func(t *testing.T, name string) ([]byte, store.Session, time.Time) {
			old := sampleSession(name)
			if err := s.CreateSession(ctx, old); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			next := sampleSession(name + " next")
			next.Claims = map[string]any{"n": math.NaN()}
			return old.IDHash, next, t0
		}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldIDHash, next, now := tc.setup(t, tc.name)
			// A grant and a code in the old session, which must stay there.
			r := sampleRefresh(tc.name)
			r.SessionIDHash = oldIDHash
			create(t, s, r)
			c := sampleCode(tc.name)
			c.SessionIDHash = oldIDHash
			if err := s.CreateCode(ctx, c); err != nil {
				t.Fatalf("CreateCode: %v", err)
			}

			err := s.RenewSession(ctx, oldIDHash, next, now)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("RenewSession: err = %v, want %v", err, cmp.Or[any](tc.want, "an error"))
			}
			if len(next.IDHash) > 0 && !bytes.Equal(next.IDHash, oldIDHash) && !errors.Is(tc.want, store.ErrDuplicate) {
				if _, err := s.GetSession(ctx, next.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetSession of the new session after a refused renewal: err = %v, want ErrNotFound", err)
				}
			}
			if tc.oldLive {
				if _, err := s.GetSession(ctx, oldIDHash, t0); err != nil {
					t.Errorf("GetSession of the old session after a refused renewal: %v", err)
				}
			}
			got, err := s.GetRefreshToken(ctx, r.Hash, t0)
			if err != nil {
				t.Fatalf("GetRefreshToken after a refused renewal: %v", err)
			}
			if !bytes.Equal(got.SessionIDHash, oldIDHash) {
				t.Errorf("refresh token after a refused renewal: SessionIDHash = %x, want the old %x", got.SessionIDHash, oldIDHash)
			}
			gc, err := consume(ctx, s, c.Hash, t0)
			if err != nil {
				t.Fatalf("consume after a refused renewal: %v", err)
			}
			if !bytes.Equal(gc.SessionIDHash, oldIDHash) {
				t.Errorf("code after a refused renewal: SessionIDHash = %x, want the old %x", gc.SessionIDHash, oldIDHash)
			}
		})
	}
}

// testConcurrentRenew is a sign-in posted from two tabs of one browser at
// once: of the renewals of one session exactly one wins, the others find it
// gone, and the grants follow the winner only.
func testConcurrentRenew(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range rounds {
		old := sampleSession(fmt.Sprintf("renew race %d", round))
		if err := s.CreateSession(ctx, old); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		r := sampleRefresh(fmt.Sprintf("renew race %d", round))
		r.SessionIDHash = old.IDHash
		create(t, s, r)
		nexts := make([]store.Session, racers)
		for i := range nexts {
			nexts[i] = sampleSession(fmt.Sprintf("renew race %d next %d", round, i))
		}
		errs := make([]error, racers)
		race(t, store.ErrNotFound, func(i int) error {
			errs[i] = s.RenewSession(ctx, old.IDHash, nexts[i], t0)
			return errs[i]
		})
		var winner []byte
		for i, err := range errs {
			_, gerr := s.GetSession(ctx, nexts[i].IDHash, t0)
			switch {
			case err == nil:
				winner = nexts[i].IDHash
				if gerr != nil {
					t.Errorf("round %d: the winner's session: GetSession err = %v", round, gerr)
				}
			case !errors.Is(gerr, store.ErrNotFound):
				t.Errorf("round %d: a loser's session: GetSession err = %v, want ErrNotFound", round, gerr)
			}
		}
		got, err := s.GetRefreshToken(ctx, r.Hash, t0)
		if err != nil {
			t.Fatalf("round %d: GetRefreshToken: %v", round, err)
		}
		if winner != nil && !bytes.Equal(got.SessionIDHash, winner) {
			t.Errorf("round %d: the grant names session %x, want the winner's %x", round, got.SessionIDHash, winner)
		}
	}
}
