package sqlstore

import (
	"bytes"
	"context"
	"time"

	"github.com/keystile/keystile/store"
)

// CompleteSignIn implements [store.SignIns] in one transaction: the used
// request, the session and the code are one commit (on SQLite one WAL
// append, where three separate writes made three), and a refused step rolls
// back the others. The request's upsert decides the race for it: a
// concurrent sign-in with the same request waits for its row (or, without
// row locks, for the write lock) and then finds it live.
func (s *Store) CompleteSignIn(ctx context.Context, in store.SignIn, now time.Time) error {
	const op = "complete sign-in"
	if len(in.RequestIDHash) == 0 {
		return s.fail(op, errEmptyKey)
	}
	codeArgs, err := s.codeArgs(in.Code)
	if err != nil {
		return s.fail(op, err)
	}
	var claims string
	if len(in.Session.IDHash) > 0 {
		// Ending the previous session first would free its id: the new
		// session must have one of its own all the same.
		if bytes.Equal(in.Session.IDHash, in.Previous) {
			return s.fail(op, store.ErrDuplicate)
		}
		if claims, err = encodeJSON("claims", in.Session.Claims); err != nil {
			return s.fail(op, err)
		}
	}
	if s.d.WritingCTEs && len(in.Previous) == 0 {
		if err := s.signInStatement(ctx, in, now, claims, codeArgs); err != nil {
			return s.fail(op, err)
		}
		return nil
	}
	err = s.db.InTx(ctx, func(tx Querier) error {
		if err := s.useRequest(ctx, tx, in.RequestIDHash, in.RequestExpiresAt, now); err != nil {
			return err
		}
		if len(in.Session.IDHash) > 0 {
			if err := s.replaceSession(ctx, tx, in, claims, now); err != nil {
				return err
			}
		}
		return insertCode(ctx, tx, codeArgs)
	})
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// replaceSession stores in.Session in place of in.Previous inside tx, as
// [store.SignIn] describes.
func (s *Store) replaceSession(ctx context.Context, tx Querier, in store.SignIn, claims string, now time.Time) error {
	// An empty hash names no session; it must not match the families and
	// codes issued outside any session.
	if len(in.Previous) > 0 {
		if in.RenewPrevious {
			found, err := s.renewSession(ctx, tx, in.Previous, in.Session, claims, now)
			if found || err != nil {
				return err
			}
			// It ended or expired since the caller read it: nothing is
			// left to carry over.
		} else if err := endSessionRevoking(ctx, tx, in.Previous); err != nil {
			return err
		}
	}
	return s.insertSession(ctx, tx, in.Session, claims)
}

// signInStatement is CompleteSignIn without a previous session as one
// statement (signInSQL): ErrReused if it stored no code, which it does only
// when the request was not live.
func (s *Store) signInStatement(ctx context.Context, in store.SignIn, now time.Time, claims string, codeArgs []any) error {
	sess := in.Session
	args := append([]any{in.RequestIDHash, s.timeArg(in.RequestExpiresAt), s.timeArg(now)},
		sess.IDHash, sess.Subject, claims, s.timeArg(sess.AuthTime), s.timeArg(sess.ExpiresAt), len(sess.IDHash) > 0)
	n, err := s.db.Exec(ctx, signIn, append(args, codeArgs...)...)
	switch {
	case err != nil && s.d.Duplicate(err):
		return store.ErrDuplicate
	case err != nil:
		return err
	case n == 0:
		return store.ErrReused
	}
	return nil
}
