package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// sampleRefresh is the first token of a family of its own, in a session of
// the same name.
func sampleRefresh(name string) store.RefreshToken {
	return store.RefreshToken{
		Hash:            hash("refresh " + name),
		FamilyID:        "family " + name,
		SessionIDHash:   hash("session " + name),
		ClientID:        "spa",
		Subject:         "alice",
		Claims:          map[string]any{"role": "admin", "n": 2, "groups": []string{"a", "b"}},
		Scope:           []string{"openid", "offline_access"},
		Resources:       []string{"https://photos.example.com/api", "urn:example:calendar"},
		Nonce:           "nonce-" + name,
		AuthTime:        t0.Add(-time.Hour),
		IssuedAt:        t0.Add(-time.Minute),
		ExpiresAt:       t0.Add(time.Hour),
		FamilyExpiresAt: t0.Add(24 * time.Hour),
	}
}

// nextRefresh is the successor the token endpoint issues for prev: same
// family and grant, a new secret and a fresh idle expiry.
func nextRefresh(prev store.RefreshToken, name string) store.RefreshToken {
	next := prev
	next.Hash = hash("refresh " + name)
	next.Scope = slices.Clone(prev.Scope)
	next.Resources = slices.Clone(prev.Resources)
	next.IssuedAt = t0
	next.ExpiresAt = t0.Add(2 * time.Hour)
	next.UsedAt = time.Time{}
	return next
}

func testRefreshRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	paris := time.FixedZone("UTC+1", 3600)
	for _, tc := range []struct {
		name string
		edit func(r *store.RefreshToken)
	}{
		{"typical", func(*store.RefreshToken) {}},
		{"sub-millisecond times in another zone", func(r *store.RefreshToken) {
			r.AuthTime = r.AuthTime.In(paris).Add(999_999 * time.Nanosecond)
			r.IssuedAt = r.IssuedAt.In(paris).Add(1_500_000 * time.Nanosecond)
			r.ExpiresAt = r.ExpiresAt.In(paris).Add(1)
			r.FamilyExpiresAt = r.FamilyExpiresAt.In(paris).Add(time.Microsecond)
		}},
		{"no session, claims, scope or nonce", func(r *store.RefreshToken) {
			r.SessionIDHash, r.Claims, r.Scope, r.Nonce = nil, nil, nil, ""
			r.AuthTime = time.Time{}
		}},
		{"a UsedAt given at create is ignored", func(r *store.RefreshToken) {
			r.UsedAt = t0.Add(-time.Second)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := sampleRefresh(tc.name)
			tc.edit(&in)
			if err := s.CreateRefreshToken(ctx, in); err != nil {
				t.Fatalf("CreateRefreshToken: %v", err)
			}
			want := in
			want.UsedAt = time.Time{}
			for i := range 2 {
				got, err := s.GetRefreshToken(ctx, in.Hash, t0)
				if err != nil {
					t.Fatalf("GetRefreshToken #%d: %v", i+1, err)
				}
				checkRefresh(t, "GetRefreshToken", got, want)
			}
		})
	}
}

func testRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := sampleRefresh("rotate")
	if err := s.CreateRefreshToken(ctx, first); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}
	second := nextRefresh(first, "rotate 2")
	second.Scope = []string{"openid"} // a refresh may narrow the scope
	// A buggy or hostile caller tries to move the family's absolute expiry
	// and session: the family's own stay.
	second.FamilyExpiresAt = first.FamilyExpiresAt.Add(365 * 24 * time.Hour)
	second.SessionIDHash = hash("another session")
	rotatedAt := t0.Add(1_234_567 * time.Nanosecond)
	if err := s.RotateRefreshToken(ctx, first.Hash, second, rotatedAt); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}

	used := first
	used.UsedAt = rotatedAt
	got, err := s.GetRefreshToken(ctx, first.Hash, t0.Add(time.Second))
	if err != nil {
		t.Fatalf("GetRefreshToken of the rotated token: %v", err)
	}
	checkRefresh(t, "the rotated token", got, used)

	wantSecond := second
	wantSecond.FamilyExpiresAt = first.FamilyExpiresAt
	wantSecond.SessionIDHash = first.SessionIDHash
	got, err = s.GetRefreshToken(ctx, second.Hash, t0.Add(time.Second))
	if err != nil {
		t.Fatalf("GetRefreshToken of the next token: %v", err)
	}
	checkRefresh(t, "the next token", got, wantSecond)

	// The chain goes on: the next token rotates in its turn, up to the
	// family's absolute expiry.
	third := nextRefresh(second, "rotate 3")
	third.ExpiresAt = first.FamilyExpiresAt.Add(time.Hour)
	if err := s.RotateRefreshToken(ctx, second.Hash, third, t0.Add(time.Minute)); err != nil {
		t.Fatalf("RotateRefreshToken of the next token: %v", err)
	}
	atFamilyEnd := first.FamilyExpiresAt
	if _, err := s.GetRefreshToken(ctx, third.Hash, atFamilyEnd.Add(-time.Millisecond)); err != nil {
		t.Errorf("GetRefreshToken of the third token before the family expires: %v", err)
	}
	if _, err := s.GetRefreshToken(ctx, third.Hash, atFamilyEnd); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefreshToken of the third token as the family expires: err = %v, want ErrNotFound", err)
	}
}

func testRotateReuse(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := sampleRefresh("reuse")
	b := nextRefresh(a, "reuse b")
	c := nextRefresh(b, "reuse c")
	bystander := sampleRefresh("reuse bystander")
	for _, r := range []store.RefreshToken{a, bystander} {
		if err := s.CreateRefreshToken(ctx, r); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
	}
	if err := s.RotateRefreshToken(ctx, a.Hash, b, t0); err != nil {
		t.Fatalf("RotateRefreshToken a→b: %v", err)
	}
	if err := s.RotateRefreshToken(ctx, b.Hash, c, t0); err != nil {
		t.Fatalf("RotateRefreshToken b→c: %v", err)
	}
	// The thief (or the client, after the thief) presents a again.
	replay := nextRefresh(a, "reuse replay")
	if err := s.RotateRefreshToken(ctx, a.Hash, replay, t0); !errors.Is(err, store.ErrReused) {
		t.Fatalf("RotateRefreshToken of a used token: err = %v, want ErrReused", err)
	}
	for _, r := range []store.RefreshToken{a, b, c, replay} {
		if _, err := s.GetRefreshToken(ctx, r.Hash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefreshToken(%s) after the replay: err = %v, want ErrNotFound", r.Nonce, err)
		}
	}
	// The live end of the chain cannot be rotated either; a second replay
	// of a used token is still a replay.
	if err := s.RotateRefreshToken(ctx, c.Hash, nextRefresh(c, "reuse d"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefreshToken of the last token: err = %v, want ErrNotFound", err)
	}
	if err := s.RotateRefreshToken(ctx, b.Hash, nextRefresh(b, "reuse b again"), t0); !errors.Is(err, store.ErrReused) {
		t.Errorf("RotateRefreshToken of a used token in a revoked family: err = %v, want ErrReused", err)
	}
	if _, err := s.GetRefreshToken(ctx, bystander.Hash, t0); err != nil {
		t.Errorf("GetRefreshToken of another family: %v", err)
	}
}

func testConcurrentRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range rounds {
		old := sampleRefresh(fmt.Sprintf("rotate race %d", round))
		if err := s.CreateRefreshToken(ctx, old); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
		nexts := make([]store.RefreshToken, racers)
		for i := range nexts {
			nexts[i] = nextRefresh(old, fmt.Sprintf("rotate race %d next %d", round, i))
		}
		// Every loser presents a token that is used by then: with strict
		// reuse detection that is a replay, and the family goes with it.
		race(t, store.ErrReused, func(i int) error {
			return s.RotateRefreshToken(ctx, old.Hash, nexts[i], t0)
		})
		for _, r := range append([]store.RefreshToken{old}, nexts...) {
			if _, err := s.GetRefreshToken(ctx, r.Hash, t0); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("GetRefreshToken after the race: err = %v, want ErrNotFound (family revoked)", err)
			}
		}
	}
}

func testRotateRefused(t *testing.T, s store.Store) {
	ctx := t.Context()
	// early is before every expiry below: a token stored by mistake would
	// be found there.
	early := t0.Add(-time.Hour + time.Second)
	for _, tc := range []struct {
		name string
		// setup stores what it needs and returns the token to rotate, the
		// successor to offer and the time to rotate at.
		setup func(t *testing.T, name string) (old, next store.RefreshToken, now time.Time)
		want  error // nil: any error
	}{
		{"missing token", func(t *testing.T, name string) (store.RefreshToken, store.RefreshToken, time.Time) {
			old := sampleRefresh(name)
			return old, nextRefresh(old, name+" next"), t0
		}, store.ErrNotFound},
		{"token idle-expired", func(t *testing.T, name string) (store.RefreshToken, store.RefreshToken, time.Time) {
			old := create(t, s, sampleRefresh(name))
			return old, nextRefresh(old, name+" next"), old.ExpiresAt
		}, store.ErrNotFound},
		{"family expired", func(t *testing.T, name string) (store.RefreshToken, store.RefreshToken, time.Time) {
			old := sampleRefresh(name)
			old.FamilyExpiresAt = t0
			create(t, s, old)
			return old, nextRefresh(old, name+" next"), t0
		}, store.ErrNotFound},
		{"family revoked", func(t *testing.T, name string) (store.RefreshToken, store.RefreshToken, time.Time) {
			old := create(t, s, sampleRefresh(name))
			if err := s.RevokeFamily(ctx, old.FamilyID); err != nil {
				t.Fatalf("RevokeFamily: %v", err)
			}
			return old, nextRefresh(old, name+" next"), t0
		}, store.ErrNotFound},
		{"next in another family", func(t *testing.T, name string) (store.RefreshToken, store.RefreshToken, time.Time) {
			old := create(t, s, sampleRefresh(name))
			next := nextRefresh(old, name+" next")
			next.FamilyID = "family of someone else"
			return old, next, t0
		}, nil},
		{"next with an empty hash", func(t *testing.T, name string) (store.RefreshToken, store.RefreshToken, time.Time) {
			old := create(t, s, sampleRefresh(name))
			next := nextRefresh(old, name+" next")
			next.Hash = nil
			return old, next, t0
		}, nil},
		{"next with claims JSON cannot encode", func(t *testing.T, name string) (store.RefreshToken, store.RefreshToken, time.Time) {
			old := create(t, s, sampleRefresh(name))
			next := nextRefresh(old, name+" next")
			next.Claims = map[string]any{"f": math.Inf(1)}
			return old, next, t0
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, next, now := tc.setup(t, tc.name)
			err := s.RotateRefreshToken(ctx, old.Hash, next, now)
			switch {
			case tc.want == nil && err == nil:
				t.Fatal("RotateRefreshToken: err = nil, want an error")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("RotateRefreshToken: err = %v, want %v", err, tc.want)
			case errors.Is(err, store.ErrReused):
				t.Fatalf("RotateRefreshToken: err = %v, the token was never used", err)
			}
			if len(next.Hash) > 0 {
				if _, err := s.GetRefreshToken(ctx, next.Hash, early); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("the refused next token was stored (err = %v)", err)
				}
			}
			if got, err := s.GetRefreshToken(ctx, old.Hash, early); err == nil && !got.UsedAt.IsZero() {
				t.Errorf("the old token was marked used at %v", got.UsedAt)
			}
		})
	}

	t.Run("next with a taken hash", func(t *testing.T) {
		old := create(t, s, sampleRefresh("taken"))
		other := create(t, s, sampleRefresh("taken other"))
		next := nextRefresh(old, "unused")
		next.Hash = other.Hash
		if err := s.RotateRefreshToken(ctx, old.Hash, next, t0); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("RotateRefreshToken: err = %v, want ErrDuplicate", err)
		}
		got, err := s.GetRefreshToken(ctx, old.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken of the old token: %v", err)
		}
		checkRefresh(t, "the old token, still unused", got, old)
		got, err = s.GetRefreshToken(ctx, other.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken of the token holding the hash: %v", err)
		}
		checkRefresh(t, "the token holding the hash", got, other)
		// The refusal was not taken for a replay: a good rotation works.
		if err := s.RotateRefreshToken(ctx, old.Hash, nextRefresh(old, "taken next"), t0); err != nil {
			t.Errorf("RotateRefreshToken after the refusal: %v", err)
		}
	})

	t.Run("next in another family, then the right one", func(t *testing.T) {
		old := create(t, s, sampleRefresh("family mix-up"))
		next := nextRefresh(old, "family mix-up next")
		next.FamilyID = sampleRefresh("taken other").FamilyID
		if err := s.RotateRefreshToken(ctx, old.Hash, next, t0); err == nil {
			t.Fatal("RotateRefreshToken into an existing other family: err = nil, want an error")
		}
		next.FamilyID = old.FamilyID
		if err := s.RotateRefreshToken(ctx, old.Hash, next, t0); err != nil {
			t.Errorf("RotateRefreshToken after the refusal: %v", err)
		}
	})
}

func testRevokeFamily(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := create(t, s, sampleRefresh("revoke a"))
	a2 := nextRefresh(a, "revoke a2")
	if err := s.RotateRefreshToken(ctx, a.Hash, a2, t0); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	b := create(t, s, sampleRefresh("revoke b"))
	for i := range 2 {
		if err := s.RevokeFamily(ctx, a.FamilyID); err != nil {
			t.Fatalf("RevokeFamily #%d: %v", i+1, err)
		}
	}
	for _, id := range []string{"unknown family", ""} {
		if err := s.RevokeFamily(ctx, id); err != nil {
			t.Errorf("RevokeFamily(%q): %v", id, err)
		}
	}
	for _, r := range []store.RefreshToken{a, a2} {
		if _, err := s.GetRefreshToken(ctx, r.Hash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefreshToken(%s): err = %v, want ErrNotFound", r.Nonce, err)
		}
	}
	if err := s.RotateRefreshToken(ctx, a2.Hash, nextRefresh(a2, "revoke a3"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefreshToken in the revoked family: err = %v, want ErrNotFound", err)
	}
	// "From now on": a token created in the family later is born revoked.
	late := sampleRefresh("revoke a late")
	late.FamilyID = a.FamilyID
	if err := s.CreateRefreshToken(ctx, late); err != nil {
		t.Fatalf("CreateRefreshToken in the revoked family: %v", err)
	}
	if _, err := s.GetRefreshToken(ctx, late.Hash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefreshToken of a token created in the revoked family: err = %v, want ErrNotFound", err)
	}
	got, err := s.GetRefreshToken(ctx, b.Hash, t0)
	if err != nil {
		t.Fatalf("GetRefreshToken of another family: %v", err)
	}
	checkRefresh(t, "another family's token", got, b)
}

func testCodeReplayRevokesFamily(t *testing.T, s store.Store) {
	ctx := t.Context()
	t.Run("tokens issued before the replay", func(t *testing.T) {
		c := sampleCode("replay")
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		if _, err := consume(ctx, s, c.Hash, t0); err != nil {
			t.Fatalf("consume: %v", err)
		}
		first := sampleRefresh("replay")
		first.FamilyID = c.FamilyID
		create(t, s, first)
		second := nextRefresh(first, "replay 2")
		if err := s.RotateRefreshToken(ctx, first.Hash, second, t0); err != nil {
			t.Fatalf("RotateRefreshToken: %v", err)
		}
		bystander := create(t, s, sampleRefresh("replay bystander"))

		got, err := consume(ctx, s, c.Hash, t0.Add(time.Second))
		if !errors.Is(err, store.ErrReused) {
			t.Fatalf("consume replay: err = %v, want ErrReused", err)
		}
		checkCode(t, "the replayed code", got, c)
		for _, r := range []store.RefreshToken{first, second} {
			if _, err := s.GetRefreshToken(ctx, r.Hash, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetRefreshToken(%s) after the code replay: err = %v, want ErrNotFound", r.Nonce, err)
			}
		}
		if _, err := s.GetRefreshToken(ctx, bystander.Hash, t0); err != nil {
			t.Errorf("GetRefreshToken of another family: %v", err)
		}
	})
	// The replay can land between the winner's consume and its first
	// refresh token: that token must be born revoked.
	t.Run("token issued after the replay", func(t *testing.T) {
		c := sampleCode("replay early")
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		if _, err := consume(ctx, s, c.Hash, t0); err != nil {
			t.Fatalf("consume: %v", err)
		}
		if _, err := consume(ctx, s, c.Hash, t0); !errors.Is(err, store.ErrReused) {
			t.Fatalf("consume replay: err = %v, want ErrReused", err)
		}
		late := sampleRefresh("replay early")
		late.FamilyID = c.FamilyID
		if err := s.CreateRefreshToken(ctx, late); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
		if _, err := s.GetRefreshToken(ctx, late.Hash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefreshToken of the late token: err = %v, want ErrNotFound", err)
		}
	})
	t.Run("code without a family", func(t *testing.T) {
		c := sampleCode("replay no family")
		c.FamilyID = ""
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		bystander := create(t, s, sampleRefresh("replay no family bystander"))
		if _, err := consume(ctx, s, c.Hash, t0); err != nil {
			t.Fatalf("consume: %v", err)
		}
		if _, err := consume(ctx, s, c.Hash, t0); !errors.Is(err, store.ErrReused) {
			t.Fatalf("consume replay: err = %v, want ErrReused", err)
		}
		if _, err := s.GetRefreshToken(ctx, bystander.Hash, t0); err != nil {
			t.Errorf("GetRefreshToken of an unrelated family: %v", err)
		}
	})
}

// create stores r and returns it.
func create(t *testing.T, s store.Store, r store.RefreshToken) store.RefreshToken {
	t.Helper()
	if err := s.CreateRefreshToken(t.Context(), r); err != nil {
		t.Fatalf("CreateRefreshToken(%s): %v", r.Nonce, err)
	}
	return r
}

func checkRefresh(t *testing.T, what string, got, want store.RefreshToken) {
	t.Helper()
	if !bytes.Equal(got.Hash, want.Hash) ||
		got.FamilyID != want.FamilyID ||
		!bytes.Equal(got.SessionIDHash, want.SessionIDHash) ||
		got.ClientID != want.ClientID ||
		got.Subject != want.Subject ||
		got.Nonce != want.Nonce ||
		!slices.Equal(got.Scope, want.Scope) ||
		!slices.Equal(got.Resources, want.Resources) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
	checkClaims(t, got.Claims, want.Claims)
	checkTime(t, what+" AuthTime", got.AuthTime, want.AuthTime)
	checkTime(t, what+" IssuedAt", got.IssuedAt, want.IssuedAt)
	checkTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, what+" FamilyExpiresAt", got.FamilyExpiresAt, want.FamilyExpiresAt)
	checkTime(t, what+" UsedAt", got.UsedAt, want.UsedAt)
}
