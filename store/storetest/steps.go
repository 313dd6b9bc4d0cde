package storetest

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/keystile/keystile/store"
)

// The store has one way to use each single-use record, the one the server
// takes: a code is used by RedeemCode, a request id by CompleteSignIn. The
// suite's cases that are about the code or the request alone go through
// these two, with nothing else asked of the step.

// consume redeems the code without issuing a refresh token, as the token
// endpoint does for a grant that gets none: it marks the code used and
// returns it, or answers a missing, expired or used one.
func consume(ctx context.Context, s store.Store, hash []byte, now time.Time) (store.AuthCode, error) {
	return s.RedeemCode(ctx, hash, now, issueNone)
}

// issueNone accepts the code and issues no refresh token.
func issueNone(store.AuthCode) (*store.RefreshToken, error) { return nil, nil }

// useRequest records idHash used until expiresAt as a sign-in without
// single sign-on does. The sign-in's code has a hash of its own, so that
// only the request can make it fail, and expires with the request: a
// DeleteExpired that removes the request removes the code too (one record
// more to count).
func useRequest(ctx context.Context, s store.Store, idHash []byte, expiresAt, now time.Time) error {
	code := store.AuthCode{Hash: signInCodeHash(), ClientID: "spa", ExpiresAt: expiresAt}
	return s.CompleteSignIn(ctx, store.SignIn{RequestIDHash: idHash, RequestExpiresAt: expiresAt, Code: code}, now)
}

// signInCodes numbers useRequest's codes, across every store a test opens.
var signInCodes atomic.Uint64

func signInCodeHash() []byte {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], signInCodes.Add(1))
	return hash("sign-in code " + string(n[:]))
}
