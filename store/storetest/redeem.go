package storetest

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// firstToken is the first refresh token of c's family, as a code exchange
// issues it.
func firstToken(c store.AuthCode, name string) store.RefreshToken {
	r := sampleRefresh(name)
	r.FamilyID = c.FamilyID
	r.SessionIDHash = c.SessionIDHash
	return r
}

func testRedeemCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	t.Run("the code is used and the token stored", func(t *testing.T) {
		c := sampleCode("redeem")
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		tok := firstToken(c, "redeem")
		calls := 0
		got, err := s.RedeemCode(ctx, c.Hash, t0, func(seen store.AuthCode) (*store.RefreshToken, error) {
			calls++
			checkCode(t, "the code issue sees", seen, c)
			return &tok, nil
		})
		if err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		if calls != 1 {
			t.Errorf("issue was called %d times, want once", calls)
		}
		checkCode(t, "the redeemed code", got, c)
		stored, err := s.GetRefreshToken(ctx, tok.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken of the token stored with the redemption: %v", err)
		}
		checkRefresh(t, "the token stored with the redemption", stored, tok)
		if _, err := consume(ctx, s, c.Hash, t0); !errors.Is(err, store.ErrReused) {
			t.Errorf("consume after RedeemCode: err = %v, want ErrReused", err)
		}
		// That replay revoked the family, token included.
		if _, err := s.GetRefreshToken(ctx, tok.Hash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefreshToken after the code's replay: err = %v, want ErrNotFound", err)
		}
	})
	t.Run("no token: the code is used", func(t *testing.T) {
		c := sampleCode("redeem no token")
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		if _, err := s.RedeemCode(ctx, c.Hash, t0, func(store.AuthCode) (*store.RefreshToken, error) { return nil, nil }); err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		if _, err := s.RedeemCode(ctx, c.Hash, t0, mustNotIssue(t)); !errors.Is(err, store.ErrReused) {
			t.Errorf("RedeemCode again: err = %v, want ErrReused", err)
		}
	})
	t.Run("a refusal burns the code and stores nothing", func(t *testing.T) {
		c := sampleCode("redeem refused")
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		tok := firstToken(c, "redeem refused")
		refusal := errors.New("the verifier does not match")
		got, err := s.RedeemCode(ctx, c.Hash, t0, func(store.AuthCode) (*store.RefreshToken, error) {
			return &tok, refusal
		})
		if err != refusal { //nolint:errorlint // the very error issue returned, unwrapped
			t.Fatalf("RedeemCode with a refusing issue: err = %v, want issue's error as it is", err)
		}
		checkCode(t, "the refused code", got, c)
		if _, err := s.GetRefreshToken(ctx, tok.Hash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefreshToken after a refusal: err = %v, want ErrNotFound", err)
		}
		if _, err := consume(ctx, s, c.Hash, t0); !errors.Is(err, store.ErrReused) {
			t.Errorf("consume after a refusal: err = %v, want ErrReused (burned)", err)
		}
	})
	t.Run("a taken token hash changes nothing", func(t *testing.T) {
		c := sampleCode("redeem duplicate")
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		taken := create(t, s, sampleRefresh("redeem duplicate taken"))
		tok := firstToken(c, "redeem duplicate")
		tok.Hash = taken.Hash
		_, err := s.RedeemCode(ctx, c.Hash, t0, func(store.AuthCode) (*store.RefreshToken, error) { return &tok, nil })
		if !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("RedeemCode with a taken token hash: err = %v, want ErrDuplicate", err)
		}
		got, err := s.GetRefreshToken(ctx, taken.Hash, t0)
		if err != nil {
			t.Fatalf("GetRefreshToken of the token that held the hash: %v", err)
		}
		checkRefresh(t, "the token that held the hash", got, taken)
		// The code is still unused, and the family was not created: a
		// second redemption stores its own first token.
		again := firstToken(c, "redeem duplicate again")
		if _, err := s.RedeemCode(ctx, c.Hash, t0, func(store.AuthCode) (*store.RefreshToken, error) { return &again, nil }); err != nil {
			t.Fatalf("RedeemCode after the refused one: %v", err)
		}
		if _, err := s.GetRefreshToken(ctx, again.Hash, t0); err != nil {
			t.Errorf("GetRefreshToken of the second redemption's token: %v", err)
		}
	})
	t.Run("a panic in issue leaves the store usable", func(t *testing.T) {
		// issue is the token endpoint's own code, and net/http recovers a
		// handler's panic: the store must not be left mid-transaction.
		c := sampleCode("redeem panic")
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Error("RedeemCode swallowed issue's panic")
				}
			}()
			_, _ = s.RedeemCode(ctx, c.Hash, t0, func(store.AuthCode) (*store.RefreshToken, error) { panic("issue panics") })
		}()
		next := sampleCode("redeem after panic")
		if err := s.CreateCode(ctx, next); err != nil {
			t.Fatalf("CreateCode after the panic: %v", err)
		}
		tok := firstToken(next, "redeem after panic")
		if _, err := s.RedeemCode(ctx, next.Hash, t0, func(store.AuthCode) (*store.RefreshToken, error) { return &tok, nil }); err != nil {
			t.Fatalf("RedeemCode after the panic: %v", err)
		}
		if _, err := s.GetRefreshToken(ctx, tok.Hash, t0); err != nil {
			t.Errorf("GetRefreshToken of the token redeemed after the panic: %v", err)
		}
	})
	t.Run("a code that starts no family: used, and never a token", func(t *testing.T) {
		c := sampleCode("redeem lone")
		c.FamilyID = ""
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		calls := 0
		got, err := s.RedeemCode(ctx, c.Hash, t0, func(seen store.AuthCode) (*store.RefreshToken, error) {
			calls++
			checkCode(t, "the code issue sees", seen, c)
			return nil, nil
		})
		if err != nil || calls != 1 {
			t.Fatalf("RedeemCode: err = %v, issue called %d times; want nil, once", err, calls)
		}
		checkCode(t, "the redeemed code", got, c)
		// Its replay is seen, and revokes no family: there is none.
		other := create(t, s, sampleRefresh("redeem lone bystander"))
		if _, err := consume(ctx, s, c.Hash, t0); !errors.Is(err, store.ErrReused) {
			t.Errorf("RedeemCode again: err = %v, want ErrReused", err)
		}
		if _, err := s.GetRefreshToken(ctx, other.Hash, t0); err != nil {
			t.Errorf("GetRefreshToken of another family after the replay: %v", err)
		}

		refused := sampleCode("redeem lone refused")
		refused.FamilyID = ""
		if err := s.CreateCode(ctx, refused); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		refusal := errors.New("the verifier does not match")
		if _, err := s.RedeemCode(ctx, refused.Hash, t0, func(store.AuthCode) (*store.RefreshToken, error) { return nil, refusal }); err != refusal { //nolint:errorlint // issue's error as it is
			t.Fatalf("RedeemCode with a refusing issue: err = %v, want issue's error as it is", err)
		}
		if _, err := consume(ctx, s, refused.Hash, t0); !errors.Is(err, store.ErrReused) {
			t.Errorf("RedeemCode after a refusal: err = %v, want ErrReused (burned)", err)
		}

		// A token for it is a caller's mistake: refused, not stored, and
		// the code is used all the same.
		wrong := sampleCode("redeem lone token")
		wrong.FamilyID = ""
		if err := s.CreateCode(ctx, wrong); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		tok := sampleRefresh("redeem lone token")
		_, err = s.RedeemCode(ctx, wrong.Hash, t0, func(store.AuthCode) (*store.RefreshToken, error) { return &tok, nil })
		if err == nil || errors.Is(err, store.ErrReused) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("RedeemCode issuing a token from a code with no family: err = %v, want an error of its own", err)
		}
		if _, err := s.GetRefreshToken(ctx, tok.Hash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefreshToken of a token issued from a code with no family: err = %v, want ErrNotFound", err)
		}
		if _, err := consume(ctx, s, wrong.Hash, t0); !errors.Is(err, store.ErrReused) {
			t.Errorf("RedeemCode after a token from a code with no family: err = %v, want ErrReused", err)
		}
	})
	t.Run("missing, expired and used codes are not issued", func(t *testing.T) {
		if _, err := s.RedeemCode(ctx, hash("code redeem missing"), t0, mustNotIssue(t)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RedeemCode of a missing code: err = %v, want ErrNotFound", err)
		}
		c := sampleCode("redeem expired")
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		if _, err := s.RedeemCode(ctx, c.Hash, c.ExpiresAt, mustNotIssue(t)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RedeemCode at the code's expiry: err = %v, want ErrNotFound", err)
		}
		// A replay revokes the family the first redemption started.
		u := sampleCode("redeem used")
		if err := s.CreateCode(ctx, u); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		tok := firstToken(u, "redeem used")
		if _, err := s.RedeemCode(ctx, u.Hash, t0, func(store.AuthCode) (*store.RefreshToken, error) { return &tok, nil }); err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		got, err := s.RedeemCode(ctx, u.Hash, t0.Add(time.Second), mustNotIssue(t))
		if !errors.Is(err, store.ErrReused) {
			t.Fatalf("RedeemCode replay: err = %v, want ErrReused", err)
		}
		checkCode(t, "the replayed code", got, u)
		if _, err := s.GetRefreshToken(ctx, tok.Hash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefreshToken after the replay: err = %v, want ErrNotFound", err)
		}
	})
}

// mustNotIssue is an issue that fails the test if it is called.
func mustNotIssue(t *testing.T) func(store.AuthCode) (*store.RefreshToken, error) {
	return func(store.AuthCode) (*store.RefreshToken, error) {
		t.Error("issue was called for a code that cannot be redeemed")
		return nil, errors.New("unexpected issue")
	}
}

// Of concurrent redemptions of one code exactly one is issued; the others
// are replays.
func testConcurrentRedeemCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range rounds {
		c := sampleCode("redeem race " + string(rune('a'+round)))
		if err := s.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		var issued atomic.Int32
		race(t, store.ErrReused, func(i int) error {
			_, err := s.RedeemCode(ctx, c.Hash, t0, func(store.AuthCode) (*store.RefreshToken, error) {
				issued.Add(1)
				tok := firstToken(c, "redeem race "+string(rune('a'+round))+" "+string(rune('A'+i)))
				return &tok, nil
			})
			return err
		})
		if n := issued.Load(); n != 1 {
			t.Errorf("issue was called %d times, want once", n)
		}
	}
}
