package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

// codeColumns are the columns a consume returns, in ConsumeCode's order.
const codeColumns = `client_id, redirect_uri, challenge, subject, claims, scope, nonce, auth_time, expires_at`

const (
	createCodeSQL = `INSERT INTO auth_codes (hash, ` + codeColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`
	// One statement checks and deletes, so of many concurrent redemptions
	// exactly one gets the row.
	consumeCodeSQL = `DELETE FROM auth_codes
		WHERE hash = ? AND expires_at > ? RETURNING ` + codeColumns
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
		c.Nonce, millis(c.AuthTime), millis(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: create code: %w", err)
	}
	return insertedOne(res, "create code")
}

// ConsumeCode implements [store.Codes] with a single DELETE … RETURNING.
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error) {
	row := s.consumeCode.QueryRowContext(ctx, hash, millis(now))
	c := store.AuthCode{Hash: slices.Clone(hash)}
	var claims, scope string
	var authTime, exp int64
	err := row.Scan(&c.ClientID, &c.RedirectURI, &c.Challenge, &c.Subject, &claims, &scope,
		&c.Nonce, &authTime, &exp)
	if isNoRows(err) {
		return store.AuthCode{}, fmt.Errorf("sqlite: consume code: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.AuthCode{}, fmt.Errorf("sqlite: consume code: %w", err)
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
