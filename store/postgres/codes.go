package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keystile/keystile/store"
)

// codeColumns are the columns a create writes and a consume returns, in
// scanCode's order.
const codeColumns = `client_id, redirect_uri, challenge, subject, claims, scope, nonce,
	auth_time, expires_at, family_id, session_hash`

const (
	createCodeSQL = `INSERT INTO auth_codes (hash, ` + codeColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (hash) DO NOTHING`
	// One statement checks and marks, so of many concurrent redemptions
	// exactly one gets the row: the others wait for its row lock, re-read
	// the row as it committed it, used, and fall through to usedCodeSQL.
	consumeCodeSQL = `UPDATE auth_codes SET used_at = $1
		WHERE hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING ` + codeColumns
	usedCodeSQL = `SELECT ` + codeColumns + ` FROM auth_codes
		WHERE hash = $1 AND used_at IS NOT NULL AND expires_at > $2`
)

// CreateCode implements [store.Codes].
func (s *Store) CreateCode(ctx context.Context, c store.AuthCode) error {
	if len(c.Hash) == 0 {
		return errEmptyKey
	}
	claims, err := encodeJSON("claims", c.Claims)
	if err != nil {
		return err
	}
	scope, err := encodeJSON("scope", c.Scope)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, createCodeSQL,
		c.Hash, c.ClientID, c.RedirectURI, c.Challenge, c.Subject, claims, scope,
		raw(c.Nonce), ms(c.AuthTime), ms(c.ExpiresAt), c.FamilyID, c.SessionIDHash)
	if err != nil {
		return fmt.Errorf("postgres: create code: %w", err)
	}
	return insertedOne(tag, "create code")
}

// ConsumeCode implements [store.Codes]. The winning redemption is a single
// UPDATE … RETURNING; only when it matches nothing does a transaction look
// for a used code and revoke its family.
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error) {
	c, err := scanCode(s.pool.QueryRow(ctx, consumeCodeSQL, ms(now), hash), hash)
	if err == nil {
		return c, nil
	}
	if !isNoRows(err) {
		return store.AuthCode{}, fmt.Errorf("postgres: consume code: %w", err)
	}
	c, err = s.replayCode(ctx, hash, now)
	if err != nil {
		return store.AuthCode{}, fmt.Errorf("postgres: consume code: %w", err)
	}
	return c, fmt.Errorf("postgres: consume code: %w", store.ErrReused)
}

// replayCode returns the code if it is live and used, after revoking its
// family; ErrNotFound if it is missing or expired. Nothing un-uses a code,
// so a used code seen here was used when the UPDATE missed it, and one that
// appeared in between did not exist for that consume: ErrNotFound is right.
func (s *Store) replayCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error) {
	var c store.AuthCode
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		c, err = scanCode(tx.QueryRow(ctx, usedCodeSQL, hash, ms(now)), hash)
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
			if _, err := tx.Exec(ctx, tombstoneFamilySQL, c.FamilyID, ms(c.ExpiresAt)); err != nil {
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

func scanCode(row pgx.Row, hash []byte) (store.AuthCode, error) {
	c := store.AuthCode{Hash: slices.Clone(hash)}
	var claims, scope string
	var nonce []byte
	var authTime, exp time.Time
	err := row.Scan(&c.ClientID, &c.RedirectURI, &c.Challenge, &c.Subject, &claims, &scope,
		&nonce, &authTime, &exp, &c.FamilyID, &c.SessionIDHash)
	if err != nil {
		return store.AuthCode{}, err
	}
	if err := decodeJSON("claims", claims, &c.Claims); err != nil {
		return store.AuthCode{}, err
	}
	if err := decodeJSON("scope", scope, &c.Scope); err != nil {
		return store.AuthCode{}, err
	}
	c.Nonce = string(nonce)
	c.AuthTime = fromDB(authTime)
	c.ExpiresAt = fromDB(exp)
	return c, nil
}
