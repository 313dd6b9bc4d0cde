package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

// codeColumns are the columns a create writes and a consume returns, in
// scanCode's order.
const codeColumns = `client_id, redirect_uri, challenge, subject, claims, scope, nonce,
	auth_time, expires_at, family_id, session_hash`

const (
	createCodeSQL = `INSERT INTO auth_codes (hash, ` + codeColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`
	// One statement checks and marks, so of many concurrent redemptions
	// exactly one gets the row; the others fall through to usedCodeSQL.
	consumeCodeSQL = `UPDATE auth_codes SET used_at = ?
		WHERE hash = ? AND used_at IS NULL AND expires_at > ? RETURNING ` + codeColumns
	usedCodeSQL = `SELECT ` + codeColumns + ` FROM auth_codes
		WHERE hash = ? AND used_at IS NOT NULL AND expires_at > ?`
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
	res, err := s.createCode.ExecContext(ctx,
		c.Hash, c.ClientID, c.RedirectURI, c.Challenge, c.Subject, claims, scope,
		c.Nonce, millis(c.AuthTime), millis(c.ExpiresAt), c.FamilyID, c.SessionIDHash)
	if err != nil {
		return fmt.Errorf("sqlite: create code: %w", err)
	}
	return insertedOne(res, "create code")
}

// ConsumeCode implements [store.Codes]. The winning redemption is a single
// UPDATE … RETURNING; only when it matches nothing does a transaction look
// for a used code and revoke its family.
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error) {
	c, err := scanCode(s.consumeCode.QueryRowContext(ctx, millis(now), hash, millis(now)), hash)
	if err == nil {
		return c, nil
	}
	if !isNoRows(err) {
		return store.AuthCode{}, fmt.Errorf("sqlite: consume code: %w", err)
	}
	c, err = s.replayCode(ctx, hash, now)
	if err != nil {
		return store.AuthCode{}, fmt.Errorf("sqlite: consume code: %w", err)
	}
	return c, fmt.Errorf("sqlite: consume code: %w", store.ErrReused)
}

// replayCode returns the code if it is live and used, after revoking its
// family; ErrNotFound if it is missing or expired. Nothing un-uses a code,
// so a used code seen here was used when the UPDATE missed it, and one that
// appeared in between did not exist for that consume: ErrNotFound is right.
func (s *Store) replayCode(ctx context.Context, hash []byte, now time.Time) (c store.AuthCode, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.AuthCode{}, err
	}
	// After a Commit, Rollback does nothing.
	defer tx.Rollback()
	c, err = scanCode(tx.StmtContext(ctx, s.usedCode).QueryRowContext(ctx, hash, millis(now)), hash)
	if isNoRows(err) {
		return store.AuthCode{}, store.ErrNotFound
	}
	if err != nil {
		return store.AuthCode{}, err
	}
	// The family may not exist yet (the winner may still be creating its
	// first refresh token): record it revoked until the code expires, so
	// that token is born revoked.
	if c.FamilyID != "" {
		if _, err := tx.StmtContext(ctx, s.tombstoneFamily).ExecContext(ctx, c.FamilyID, millis(c.ExpiresAt)); err != nil {
			return store.AuthCode{}, fmt.Errorf("revoke family: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return store.AuthCode{}, err
	}
	return c, nil
}

func scanCode(row *sql.Row, hash []byte) (store.AuthCode, error) {
	c := store.AuthCode{Hash: slices.Clone(hash)}
	var claims, scope string
	var authTime, exp int64
	err := row.Scan(&c.ClientID, &c.RedirectURI, &c.Challenge, &c.Subject, &claims, &scope,
		&c.Nonce, &authTime, &exp, &c.FamilyID, &c.SessionIDHash)
	if err != nil {
		return store.AuthCode{}, err
	}
	if err := decodeJSON("claims", claims, &c.Claims); err != nil {
		return store.AuthCode{}, err
	}
	if err := decodeJSON("scope", scope, &c.Scope); err != nil {
		return store.AuthCode{}, err
	}
	c.AuthTime = fromMillis(authTime)
	c.ExpiresAt = fromMillis(exp)
	return c, nil
}

// insertedOne maps an INSERT … ON CONFLICT DO NOTHING that changed no row to
// store.ErrDuplicate.
func insertedOne(res sql.Result, op string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrDuplicate)
	}
	return nil
}
