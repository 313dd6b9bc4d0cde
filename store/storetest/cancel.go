package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func testCancelled(t *testing.T, s store.Store) {
	c := sampleCode("cancel")
	sess := sampleSession("cancel")
	rt := sampleRefresh("cancel")
	if err := useRequest(t.Context(), s, requestID("cancel"), t0.Add(time.Hour), t0); err != nil {
		t.Fatalf("useRequest: %v", err)
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
	check("useRequest", useRequest(ctx, s, requestID("cancel new"), t0.Add(time.Hour), t0))
	check("CreateCode", s.CreateCode(ctx, sampleCode("cancel new")))
	check("CreateSession", s.CreateSession(ctx, sampleSession("cancel new")))
	check("CreateRefreshToken", s.CreateRefreshToken(ctx, sampleRefresh("cancel new")))
	check("RotateRefreshToken", s.RotateRefreshToken(ctx, rt.Hash, nextRefresh(rt, "cancel next"), t0))
	check("RevokeFamily", s.RevokeFamily(ctx, rt.FamilyID))
	check("EndSession", s.EndSession(ctx, sess.IDHash, true))
	check("RenewSession", s.RenewSession(ctx, sess.IDHash, sampleSession("cancel renewed"), t0))
	check("RevokeAccessToken", s.RevokeAccessToken(ctx, "jti cancel new", t0.Add(time.Hour)))
	signIn := sampleSignIn("cancel sign-in")
	signIn.Previous = sess.IDHash
	check("CompleteSignIn", s.CompleteSignIn(ctx, signIn, t0))
	check("useRequest of a used id", useRequest(ctx, s, requestID("cancel"), t0.Add(time.Hour), t0))
	_, err := consume(ctx, s, c.Hash, t0)
	check("consume", err)
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
	if err := useRequest(live, s, requestID("cancel"), t0.Add(time.Hour), t0); !errors.Is(err, store.ErrReused) {
		t.Errorf("useRequest of the used id after the cancelled calls: err = %v, want ErrReused", err)
	}
	if _, err := consume(live, s, c.Hash, t0); err != nil {
		t.Errorf("consume after the cancelled calls: %v", err)
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
	if err := useRequest(live, s, requestID("cancel new"), t0.Add(time.Hour), t0); err != nil {
		t.Errorf("a request id used with a cancelled context was recorded: useRequest = %v, want nil", err)
	}
	if _, err := consume(live, s, sampleCode("cancel new").Hash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("code created with a cancelled context: err = %v, want ErrNotFound", err)
	}
	for _, h := range [][]byte{sampleSession("cancel new").IDHash, sampleSession("cancel renewed").IDHash, signIn.Session.IDHash} {
		if _, err := s.GetSession(live, h, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %x created with a cancelled context: err = %v, want ErrNotFound", h, err)
		}
	}
	if err := useRequest(live, s, signIn.RequestIDHash, t0.Add(time.Hour), t0); err != nil {
		t.Errorf("a sign-in with a cancelled context used its request: useRequest = %v, want nil", err)
	}
	if _, err := consume(live, s, signIn.Code.Hash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a sign-in with a cancelled context stored its code: err = %v, want ErrNotFound", err)
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
