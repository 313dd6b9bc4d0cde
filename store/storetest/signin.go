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

// sampleSignIn is a sign-in in a browser that brought no session.
func sampleSignIn(name string) store.SignIn {
	sess := sampleSession(name + " signed in")
	c := sampleCode(name + " signed in")
	c.SessionIDHash = sess.IDHash
	return store.SignIn{
		RequestIDHash:    requestID(name),
		RequestExpiresAt: t0.Add(10 * time.Minute),
		Session:          sess,
		Code:             c,
	}
}

// checkSignedIn checks what a completed sign-in left: the request used, the
// session readable, and the code redeemable once, naming the session.
func checkSignedIn(t *testing.T, s store.Store, in store.SignIn) {
	t.Helper()
	ctx := t.Context()
	if err := useRequest(ctx, s, in.RequestIDHash, in.RequestExpiresAt, t0); !errors.Is(err, store.ErrReused) {
		t.Errorf("useRequest of the signed-in request: err = %v, want ErrReused", err)
	}
	if len(in.Session.IDHash) > 0 {
		got, err := s.GetSession(ctx, in.Session.IDHash, t0)
		if err != nil {
			t.Errorf("GetSession of the new session: %v", err)
		} else {
			checkSession(t, "the new session", got, in.Session)
		}
	}
	got, err := consume(ctx, s, in.Code.Hash, t0)
	if err != nil {
		t.Fatalf("consume of the sign-in's code: %v", err)
	}
	checkCode(t, "the sign-in's code", got, in.Code)
}

func testSignIn(t *testing.T, s store.Store) {
	ctx := t.Context()
	t.Run("with a session", func(t *testing.T) {
		in := sampleSignIn("with a session")
		if err := s.CompleteSignIn(ctx, in, t0); err != nil {
			t.Fatalf("CompleteSignIn: %v", err)
		}
		checkSignedIn(t, s, in)
		// The form posted again, with another code: the request is used.
		again := sampleSignIn("with a session, again")
		again.RequestIDHash = in.RequestIDHash
		if err := s.CompleteSignIn(ctx, again, t0.Add(time.Minute)); !errors.Is(err, store.ErrReused) {
			t.Errorf("CompleteSignIn of a used request: err = %v, want ErrReused", err)
		}
	})
	t.Run("without single sign-on", func(t *testing.T) {
		in := sampleSignIn("no session")
		in.Session = store.Session{}
		in.Previous = hash("ignored without a session")
		in.Code.SessionIDHash = nil
		if err := s.CompleteSignIn(ctx, in, t0); err != nil {
			t.Fatalf("CompleteSignIn: %v", err)
		}
		checkSignedIn(t, s, in)
	})
	t.Run("a request whose record expired is used again", func(t *testing.T) {
		in := sampleSignIn("expired request")
		if err := useRequest(ctx, s, in.RequestIDHash, t0, t0.Add(-time.Minute)); err != nil {
			t.Fatalf("useRequest: %v", err)
		}
		if err := s.CompleteSignIn(ctx, in, t0); err != nil {
			t.Fatalf("CompleteSignIn at the old record's expiry: %v", err)
		}
		checkSignedIn(t, s, in)
	})
}

// storePrevious stores the session a browser brings to a sign-in, with a
// refresh-token family and an unredeemed code in it.
func storePrevious(t *testing.T, s store.Store, name string) (store.Session, store.RefreshToken, store.AuthCode) {
	t.Helper()
	ctx := t.Context()
	prev := sampleSession(name + " previous")
	if err := s.CreateSession(ctx, prev); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	r := sampleRefresh(name + " previous")
	r.SessionIDHash = prev.IDHash
	create(t, s, r)
	c := sampleCode(name + " previous")
	c.SessionIDHash = prev.IDHash
	if err := s.CreateCode(ctx, c); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	return prev, r, c
}

// testSignInPrevious: the session the browser brought is renewed for the
// same user and ended, with its grants, for another.
func testSignInPrevious(t *testing.T, s store.Store) {
	ctx := t.Context()
	t.Run("renewed for the same user", func(t *testing.T) {
		prev, r, c := storePrevious(t, s, "renew")
		in := sampleSignIn("renew")
		in.Previous, in.RenewPrevious = prev.IDHash, true
		if err := s.CompleteSignIn(ctx, in, t0); err != nil {
			t.Fatalf("CompleteSignIn: %v", err)
		}
		checkSignedIn(t, s, in)
		if _, err := s.GetSession(ctx, prev.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession of the renewed session: err = %v, want ErrNotFound", err)
		}
		got, err := s.GetRefreshToken(ctx, r.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken of the previous session's grant: %v", err)
		}
		if !bytes.Equal(got.SessionIDHash, in.Session.IDHash) {
			t.Errorf("the previous session's grant names session %x, want the new %x", got.SessionIDHash, in.Session.IDHash)
		}
		gc, err := consume(ctx, s, c.Hash, t0)
		if err != nil {
			t.Fatalf("consume of the previous session's code: %v", err)
		}
		if !bytes.Equal(gc.SessionIDHash, in.Session.IDHash) {
			t.Errorf("the previous session's code names session %x, want the new %x", gc.SessionIDHash, in.Session.IDHash)
		}
		// Signing out of the new session reaches the carried-over grant.
		if err := s.EndSession(ctx, in.Session.IDHash, true); err != nil {
			t.Fatalf("EndSession: %v", err)
		}
		if _, err := s.GetRefreshToken(ctx, r.Hash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefreshToken after signing out of the new session: err = %v, want ErrNotFound", err)
		}
	})
	t.Run("renewal of a session that has ended creates the new one", func(t *testing.T) {
		prev, r, _ := storePrevious(t, s, "renew ended")
		if err := s.EndSession(ctx, prev.IDHash, false); err != nil {
			t.Fatalf("EndSession: %v", err)
		}
		in := sampleSignIn("renew ended")
		in.Previous, in.RenewPrevious = prev.IDHash, true
		if err := s.CompleteSignIn(ctx, in, t0); err != nil {
			t.Fatalf("CompleteSignIn: %v", err)
		}
		checkSignedIn(t, s, in)
		got, err := s.GetRefreshToken(ctx, r.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken: %v", err)
		}
		if !bytes.Equal(got.SessionIDHash, prev.IDHash) {
			t.Errorf("a grant of the ended session moved to %x", got.SessionIDHash)
		}
	})
	t.Run("ended, with its grants, for another user", func(t *testing.T) {
		prev, r, _ := storePrevious(t, s, "other user")
		kept := sampleRefresh("other user, another session")
		create(t, s, kept)
		in := sampleSignIn("other user")
		in.Session.Subject = "bob"
		in.Code.Subject = "bob"
		in.Previous = prev.IDHash
		if err := s.CompleteSignIn(ctx, in, t0); err != nil {
			t.Fatalf("CompleteSignIn: %v", err)
		}
		checkSignedIn(t, s, in)
		if _, err := s.GetSession(ctx, prev.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession of the previous user's session: err = %v, want ErrNotFound", err)
		}
		if _, err := s.GetRefreshToken(ctx, r.Hash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefreshToken of the previous user's grant: err = %v, want ErrNotFound", err)
		}
		if _, err := s.GetRefreshToken(ctx, kept.Hash, t0); err != nil {
			t.Errorf("GetRefreshToken of another session's grant: %v", err)
		}
	})
}

// testSignInRefused: a refused sign-in changes nothing — the request stays
// unused, no session or code appears, and the previous session keeps its
// grants.
func testSignInRefused(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		// edit makes in fail, storing what it needs first.
		edit func(t *testing.T, in *store.SignIn)
		want error // nil: any error
		// requestUsed: the request was used before (the refusal itself).
		requestUsed bool
	}{
		{"request already used", func(t *testing.T, in *store.SignIn) {
			if err := useRequest(ctx, s, in.RequestIDHash, in.RequestExpiresAt, t0); err != nil {
				t.Fatalf("useRequest: %v", err)
			}
		}, store.ErrReused, true},
		{"code hash taken", func(t *testing.T, in *store.SignIn) {
			taken := sampleCode(t.Name() + " taken")
			if err := s.CreateCode(ctx, taken); err != nil {
				t.Fatalf("CreateCode: %v", err)
			}
			in.Code.Hash = taken.Hash
		}, store.ErrDuplicate, false},
		{"session id taken", func(t *testing.T, in *store.SignIn) {
			taken := sampleSession(t.Name() + " taken")
			if err := s.CreateSession(ctx, taken); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			in.Session.IDHash = taken.IDHash
			in.Code.SessionIDHash = taken.IDHash
		}, store.ErrDuplicate, false},
		{"new session id is the previous one", func(t *testing.T, in *store.SignIn) {
			in.Session.IDHash = in.Previous
			in.Code.SessionIDHash = in.Previous
		}, store.ErrDuplicate, false},
		{"empty request id", func(t *testing.T, in *store.SignIn) { in.RequestIDHash = nil }, nil, false},
		{"empty code hash", func(t *testing.T, in *store.SignIn) { in.Code.Hash = nil }, nil, false},
		{"code claims JSON cannot encode", func(t *testing.T, in *store.SignIn) {
			in.Code.Claims = map[string]any{"n": math.NaN()}
		}, nil, false},
		{"session claims JSON cannot encode", func(t *testing.T, in *store.SignIn) {
			in.Session.Claims = map[string]any{"n": math.Inf(1)}
		}, nil, false},
	} {
		// The browser's previous session is renewed, ended, or not
		// brought at all (then it is only there to stay untouched).
		for _, mode := range []string{"renew", "end", "none"} {
			if mode == "none" && tc.name == "new session id is the previous one" {
				continue
			}
			name := fmt.Sprintf("%s, previous session: %s", tc.name, mode)
			t.Run(name, func(t *testing.T) {
				prev, r, _ := storePrevious(t, s, name)
				in := sampleSignIn(name)
				if mode != "none" {
					in.Previous, in.RenewPrevious = prev.IDHash, mode == "renew"
				}
				tc.edit(t, &in)
				code, sess := in.Code.Hash, in.Session.IDHash

				err := s.CompleteSignIn(ctx, in, t0)
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Fatalf("CompleteSignIn: err = %v, want %v", err, cmp.Or[any](tc.want, "an error"))
				}
				if len(in.RequestIDHash) > 0 && !tc.requestUsed {
					if err := useRequest(ctx, s, in.RequestIDHash, in.RequestExpiresAt, t0); err != nil {
						t.Errorf("useRequest after a refused sign-in: %v, want the request unused", err)
					}
				}
				if !errors.Is(tc.want, store.ErrDuplicate) && len(code) > 0 {
					if _, err := consume(ctx, s, code, t0); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("consume after a refused sign-in: err = %v, want ErrNotFound", err)
					}
				}
				if !errors.Is(tc.want, store.ErrDuplicate) && !bytes.Equal(sess, prev.IDHash) {
					if _, err := s.GetSession(ctx, sess, t0); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("GetSession of the new session after a refused sign-in: err = %v, want ErrNotFound", err)
					}
				}
				if _, err := s.GetSession(ctx, prev.IDHash, t0); err != nil {
					t.Errorf("GetSession of the previous session after a refused sign-in: %v", err)
				}
				got, err := s.GetRefreshToken(ctx, r.Hash, t0)
				if err != nil {
					t.Fatalf("GetRefreshToken of the previous session's grant after a refused sign-in: %v", err)
				}
				if !bytes.Equal(got.SessionIDHash, prev.IDHash) {
					t.Errorf("the previous session's grant names %x after a refused sign-in, want %x", got.SessionIDHash, prev.IDHash)
				}
			})
		}
	}
}

// testConcurrentSignIn is one login form posted from many tabs at once: of
// the sign-ins with one request exactly one wins, and only its session and
// code are stored. The tabs come without a session (on PostgreSQL, one
// statement), and with the browser's previous session, renewed for the
// same user or ended for another (a transaction of several statements).
func testConcurrentSignIn(t *testing.T, s store.Store) {
	for _, previous := range []string{"none", "renewed", "ended"} {
		t.Run("previous session "+previous, func(t *testing.T) {
			concurrentSignIn(t, s, previous)
		})
	}
}

func concurrentSignIn(t *testing.T, s store.Store, previous string) {
	ctx := t.Context()
	for round := range rounds {
		name := fmt.Sprintf("sign-in race %s %d", previous, round)
		var prev store.Session
		var prevToken store.RefreshToken
		if previous != "none" {
			prev, prevToken, _ = storePrevious(t, s, name)
		}
		ins := make([]store.SignIn, racers)
		errs := make([]error, racers)
		for i := range ins {
			ins[i] = sampleSignIn(fmt.Sprintf("%s tab %d", name, i))
			ins[i].RequestIDHash = requestID(name)
			if previous != "none" {
				ins[i].Previous, ins[i].RenewPrevious = prev.IDHash, previous == "renewed"
			}
		}
		race(t, store.ErrReused, func(i int) error {
			errs[i] = s.CompleteSignIn(ctx, ins[i], t0)
			return errs[i]
		})
		for i, in := range ins {
			_, serr := s.GetSession(ctx, in.Session.IDHash, t0)
			_, cerr := consume(ctx, s, in.Code.Hash, t0)
			if errs[i] == nil {
				if serr != nil || cerr != nil {
					t.Errorf("round %d: the winner's session and code: %v, %v", round, serr, cerr)
				}
			} else if !errors.Is(serr, store.ErrNotFound) || !errors.Is(cerr, store.ErrNotFound) {
				t.Errorf("round %d: a loser's session and code: %v, %v, want ErrNotFound", round, serr, cerr)
			}
		}
		if previous == "none" {
			continue
		}
		// The previous session is gone either way; its grant moved to the
		// winner's session when renewed, and was revoked when ended.
		if _, err := s.GetSession(ctx, prev.IDHash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("round %d: the previous session: %v, want ErrNotFound", round, err)
		}
		got, err := s.GetRefreshToken(ctx, prevToken.Hash, t0)
		switch {
		case previous == "renewed" && err != nil:
			t.Errorf("round %d: the renewed session's grant: %v", round, err)
		case previous == "renewed" && !bytes.Equal(got.SessionIDHash, winner(ins, errs).Session.IDHash):
			t.Errorf("round %d: the renewed session's grant names session %x, want the winner's", round, got.SessionIDHash)
		case previous == "ended" && !errors.Is(err, store.ErrNotFound):
			t.Errorf("round %d: the ended session's grant: %v, want ErrNotFound (revoked)", round, err)
		}
	}
}

// winner is the sign-in of ins that succeeded (race checked there is one).
func winner(ins []store.SignIn, errs []error) store.SignIn {
	for i, err := range errs {
		if err == nil {
			return ins[i]
		}
	}
	return store.SignIn{}
}
