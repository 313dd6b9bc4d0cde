package storetest

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

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
		if _, err := consume(ctx, s, c.Hash, now); err != nil {
			b.Fatalf("consume: %v", err)
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
			if _, err := consume(ctx, s, c.Hash, now); err != nil {
				b.Errorf("consume: %v", err)
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

// BenchSignIn measures what a sign-in at the login form writes to s: the
// used request, a new session and a code, as one [store.SignIns] step, or,
// with separate, as three write transactions, as it took before that step
// existed — the side-by-side figure for what one transaction instead of
// three buys. (The separate request is recorded with a small code of its
// own, since a sign-in is the only way to record one: see useRequest.)
func BenchSignIn(b *testing.B, s store.Store, separate bool) {
	ctx := b.Context()
	in := sampleSignIn("bench")
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		i++
		in.RequestIDHash = counterHash(3 * i)
		in.Session.IDHash = counterHash(3*i + 1)
		in.Code.Hash = counterHash(3*i + 2)
		in.Code.SessionIDHash = in.Session.IDHash
		if !separate {
			if err := s.CompleteSignIn(ctx, in, t0); err != nil {
				b.Fatalf("CompleteSignIn: %v", err)
			}
			continue
		}
		if err := useRequest(ctx, s, in.RequestIDHash, in.RequestExpiresAt, t0); err != nil {
			b.Fatalf("useRequest: %v", err)
		}
		if err := s.CreateSession(ctx, in.Session); err != nil {
			b.Fatalf("CreateSession: %v", err)
		}
		if err := s.CreateCode(ctx, in.Code); err != nil {
			b.Fatalf("CreateCode: %v", err)
		}
	}
}

// BenchExchange measures what a code exchange writes to s, with the
// sign-in's CreateCode before it on both sides: the code's redemption with the
// family's first refresh token, as one [store.Codes.RedeemCode] step, or,
// with separate, as a redemption that issues no token and then
// CreateRefreshToken, two write transactions as it took before — the
// side-by-side figure for what one write transaction instead of two buys.
func BenchExchange(b *testing.B, s store.Store, separate bool) {
	ctx := b.Context()
	c := sampleCode("bench")
	now := c.ExpiresAt.Add(-time.Second)
	tok := sampleRefresh("bench")
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		i++
		c.Hash = counterHash(2 * i)
		c.FamilyID = "bench family " + strconv.FormatUint(i, 10)
		tok.Hash = counterHash(2*i + 1)
		tok.FamilyID = c.FamilyID
		if err := s.CreateCode(ctx, c); err != nil {
			b.Fatalf("CreateCode: %v", err)
		}
		if !separate {
			if _, err := s.RedeemCode(ctx, c.Hash, now, func(store.AuthCode) (*store.RefreshToken, error) { return &tok, nil }); err != nil {
				b.Fatalf("RedeemCode: %v", err)
			}
			continue
		}
		if _, err := consume(ctx, s, c.Hash, now); err != nil {
			b.Fatalf("consume: %v", err)
		}
		if err := s.CreateRefreshToken(ctx, tok); err != nil {
			b.Fatalf("CreateRefreshToken: %v", err)
		}
	}
}
