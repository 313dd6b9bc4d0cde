package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

// codeColumns are the columns a create writes and a redemption returns, in
// scanCode's order.
const codeColumns = `client_id, redirect_uri, challenge, subject, claims, scope, nonce,
	auth_time, expires_at, family_id, session_hash, resources`

const (
	createCodeSQL = `INSERT INTO auth_codes (hash, ` + codeColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (hash) DO NOTHING`
	// One statement checks and marks, so of many concurrent redemptions
	// exactly one gets the row: the others wait for its row lock, re-read
	// the row as it committed it, used, and fall through to usedCodeSQL.
	consumeCodeSQL = `UPDATE auth_codes SET used_at = $1
		WHERE hash = $2 AND used_at IS NULL AND expires_at > $3 RETURNING ` + codeColumns
	usedCodeSQL = `SELECT ` + codeColumns + ` FROM auth_codes
		WHERE hash = $1 AND used_at IS NOT NULL AND expires_at > $2`
)

// CreateCode implements [store.Codes].
func (s *Store) CreateCode(ctx context.Context, c store.AuthCode) error {
	const op = "create code"
	args, err := s.codeArgs(c)
	if err == nil {
		err = insertCode(ctx, s.db, args)
	}
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// insertCode stores a code, given codeArgs' arguments, with q; ErrDuplicate
// if its hash is taken.
func insertCode(ctx context.Context, q Querier, args []any) error {
	n, err := q.Exec(ctx, createCode, args...)
	if err != nil {
		return err
	}
	return inserted(n)
}

// codeArgs validates c and returns createCodeSQL's arguments.
func (s *Store) codeArgs(c store.AuthCode) ([]any, error) {
	if len(c.Hash) == 0 {
		return nil, errEmptyKey
	}
	claims, err := encodeJSON("claims", c.Claims)
	if err != nil {
		return nil, err
	}
	scope, err := encodeJSON("scope", c.Scope)
	if err != nil {
		return nil, err
	}
	resources, err := encodeJSON("resources", c.Resources)
	if err != nil {
		return nil, err
	}
	return []any{c.Hash, c.ClientID, c.RedirectURI, c.Challenge, c.Subject, claims, scope,
		s.textArg(c.Nonce), s.timeArg(c.AuthTime), s.timeArg(c.ExpiresAt), c.FamilyID, c.SessionIDHash, resources}, nil
}

// RedeemCode implements [store.Codes]: the consuming UPDATE, issue and the
// token's creation in one transaction. On PostgreSQL the UPDATE takes the
// code's row lock, so a concurrent redemption waits for this one's commit
// and then finds the code used; only when the UPDATE matches nothing does
// a second transaction look for a used code and revoke its family.
//
// On PostgreSQL the transaction is two round trips whether or not a token
// follows: BEGIN goes out with the UPDATE, and the token's INSERT with the
// COMMIT. A code that starts no family could be one autocommit UPDATE, but
// the store learns that only from the row, so trying it first would cost
// every exchange that issues a refresh token (the common one) a third.
func (s *Store) RedeemCode(ctx context.Context, hash []byte, now time.Time, issue func(store.AuthCode) (*store.RefreshToken, error)) (store.AuthCode, error) {
	const op = "redeem code"
	at := s.timeArg(now)
	var c store.AuthCode
	var consumed bool
	var refused error
	err := s.db.InTx(ctx, func(tx Querier) error {
		var err error
		c, err = s.scanCode(tx.QueryRow(ctx, consumeCode, at, hash, at), hash)
		if isNoRows(err) {
			return nil // missing, expired or used: looked into below
		}
		if err != nil {
			return err
		}
		consumed = true
		t, err := issue(c)
		if err == nil && t != nil && c.FamilyID == "" {
			err = s.fail(op, errLoneToken)
		}
		if err != nil {
			refused = err // the code is burned all the same: commit
			return nil
		}
		if t == nil {
			return nil
		}
		// On PostgreSQL the family and its token are one statement
		// (createFamilyTokenSQL), which can go out with the COMMIT.
		return s.createFamilyToken(ctx, tx, *t)
	})
	switch {
	case err != nil:
		return store.AuthCode{}, s.fail(op, err)
	case consumed:
		return c, refused
	}
	c, err = s.replayCode(ctx, hash, now)
	if err != nil {
		return store.AuthCode{}, s.fail(op, err)
	}
	return c, s.fail(op, store.ErrReused)
}

// replayCode returns the code if it is live and used, after revoking its
// family; ErrNotFound if it is missing or expired. Nothing un-uses a code,
// so a used code seen here was used when the UPDATE missed it, and one that
// appeared in between did not exist for that consume: ErrNotFound is right.
func (s *Store) replayCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error) {
	var c store.AuthCode
	err := s.db.InTx(ctx, func(tx Querier) error {
		var err error
		c, err = s.scanCode(tx.QueryRow(ctx, usedCode, hash, s.timeArg(now)), hash)
		if isNoRows(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		// The family may not exist yet (the winner may still be creating
		// its first refresh token): record it revoked until the code
		// expires, so that token is born revoked.
		if c.FamilyID != "" {
			if _, err := tx.Exec(ctx, tombstoneFamily, c.FamilyID, s.timeArg(c.ExpiresAt)); err != nil {
				return fmt.Errorf("revoke family: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return store.AuthCode{}, err
	}
	return c, nil
}

func (s *Store) scanCode(row Row, hash []byte) (store.AuthCode, error) {
	c := store.AuthCode{Hash: slices.Clone(hash)}
	var claims, scope, nonce, resources []byte
	err := row.Scan(&c.ClientID, &c.RedirectURI, &c.Challenge, &c.Subject, &claims, &scope,
		&nonce, timeDest(&c.AuthTime), timeDest(&c.ExpiresAt), &c.FamilyID, &c.SessionIDHash, &resources)
	if err != nil {
		return store.AuthCode{}, err
	}
	if err := decodeJSON("claims", claims, &c.Claims); err != nil {
		return store.AuthCode{}, err
	}
	if err := decodeJSON("scope", scope, &c.Scope); err != nil {
		return store.AuthCode{}, err
	}
	if err := decodeJSON("resources", resources, &c.Resources); err != nil {
		return store.AuthCode{}, err
	}
	c.Nonce = string(nonce)
	return c, nil
}
