package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

// refreshColumns are the columns of refresh_tokens a create writes, in
// createRefreshTokenSQL's order; used_at is left NULL.
const refreshColumns = `hash, family_id, client_id, subject, claims, scope, nonce,
	auth_time, issued_at, expires_at`

// liveRefresh is the condition for a usable token t of family f: the
// family not revoked, neither expired at the second and third parameters.
const liveRefresh = `f.id = t.family_id AND f.revoked = 0 AND t.expires_at > ? AND f.expires_at > ?`

const (
	// The first token of a family creates it; a later one keeps the
	// family's session, expiry and revocation as they are.
	createFamilySQL = `INSERT INTO refresh_families (id, session_hash, expires_at)
		VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`
	createRefreshTokenSQL = `INSERT INTO refresh_tokens (` + refreshColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`
	getRefreshTokenSQL = `SELECT t.family_id, t.client_id, t.subject, t.claims, t.scope, t.nonce,
			t.auth_time, t.issued_at, t.expires_at, t.used_at, f.session_hash, f.expires_at
		FROM refresh_tokens t, refresh_families f
		WHERE t.hash = ? AND ` + liveRefresh
	// rotateCheckSQL is the part of getRefreshTokenSQL a rotation needs. It
	// finds tokens of revoked families too: a used one is still a replay.
	rotateCheckSQL = `SELECT t.family_id, t.used_at, f.revoked FROM refresh_tokens t, refresh_families f
		WHERE t.hash = ? AND f.id = t.family_id AND t.expires_at > ? AND f.expires_at > ?`
	markRefreshUsedSQL = `UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL`
	revokeFamilySQL    = `UPDATE refresh_families SET revoked = 1 WHERE id = ?`
	// tombstoneFamilySQL revokes a family that may not exist yet, recording
	// it revoked until the given time; an existing one keeps its expiry.
	tombstoneFamilySQL = `INSERT INTO refresh_families (id, revoked, expires_at) VALUES (?, 1, ?)
		ON CONFLICT (id) DO UPDATE SET revoked = 1`
)

var errOtherFamily = errors.New("next token is in another family")

// CreateRefreshToken implements [store.RefreshTokens]. The first token of a
// family creates it, with the token's SessionIDHash and FamilyExpiresAt; a
// token created in a family that exists takes the family's, and one created
// in a revoked family is revoked from birth. t.UsedAt is ignored: a new
// token is unused.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	args, err := refreshArgs(t)
	if err != nil {
		return fmt.Errorf("sqlite: create refresh token: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: create refresh token: %w", err)
	}
	// After a Commit, Rollback does nothing.
	defer tx.Rollback()
	if err := s.insertRefresh(ctx, tx, t, args); err != nil {
		return fmt.Errorf("sqlite: create refresh token: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: create refresh token: %w", err)
	}
	return nil
}

// GetRefreshToken implements [store.RefreshTokens].
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte, now time.Time) (store.RefreshToken, error) {
	t := store.RefreshToken{Hash: slices.Clone(hash)}
	var claims, scope string
	var authTime, issuedAt, exp, familyExp int64
	var usedAt sql.NullInt64
	err := s.getRefreshToken.QueryRowContext(ctx, hash, millis(now), millis(now)).Scan(
		&t.FamilyID, &t.ClientID, &t.Subject, &claims, &scope, &t.Nonce,
		&authTime, &issuedAt, &exp, &usedAt, &t.SessionIDHash, &familyExp)
	if isNoRows(err) {
		return store.RefreshToken{}, fmt.Errorf("sqlite: get refresh token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("sqlite: get refresh token: %w", err)
	}
	if err := decodeJSON("claims", claims, &t.Claims); err != nil {
		return store.RefreshToken{}, err
	}
	if err := decodeJSON("scope", scope, &t.Scope); err != nil {
		return store.RefreshToken{}, err
	}
	t.AuthTime = fromMillis(authTime)
	t.IssuedAt = fromMillis(issuedAt)
	t.ExpiresAt = fromMillis(exp)
	t.FamilyExpiresAt = fromMillis(familyExp)
	if usedAt.Valid {
		t.UsedAt = fromMillis(usedAt.Int64)
	}
	return t, nil
}

// RotateRefreshToken implements [store.RefreshTokens] in one transaction,
// which takes the write lock at BEGIN (_txlock=immediate): of concurrent
// rotations of one token, in this process or another, exactly one reads it
// unused.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken, now time.Time) error {
	if err := s.rotate(ctx, oldHash, next, now); err != nil {
		return fmt.Errorf("sqlite: rotate refresh token: %w", err)
	}
	return nil
}

func (s *Store) rotate(ctx context.Context, oldHash []byte, next store.RefreshToken, now time.Time) error {
	args, err := refreshArgs(next)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// After a Commit, Rollback does nothing.
	defer tx.Rollback()
	var familyID string
	var usedAt sql.NullInt64
	var revoked bool
	err = tx.StmtContext(ctx, s.rotateCheck).QueryRowContext(ctx, oldHash, millis(now), millis(now)).
		Scan(&familyID, &usedAt, &revoked)
	if isNoRows(err) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	// A used token is reported as reused even once its family is revoked,
	// so that every replay, not only the first, is seen as one.
	if usedAt.Valid {
		// RFC 9700 §4.14.2: the server cannot tell the legitimate client
		// from the thief, so the whole family goes.
		if _, err := tx.StmtContext(ctx, s.revokeFamily).ExecContext(ctx, familyID); err != nil {
			return fmt.Errorf("revoke family: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		return store.ErrReused
	}
	if revoked {
		return store.ErrNotFound
	}
	if next.FamilyID != familyID {
		return errOtherFamily
	}
	if _, err := tx.StmtContext(ctx, s.markRefreshUsed).ExecContext(ctx, millis(now), oldHash); err != nil {
		return err
	}
	if err := s.insertRefresh(ctx, tx, next, args); err != nil {
		return err
	}
	return tx.Commit()
}

// RevokeFamily implements [store.RefreshTokens] with one UPDATE.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) error {
	if _, err := s.revokeFamily.ExecContext(ctx, familyID); err != nil {
		return fmt.Errorf("sqlite: revoke family: %w", err)
	}
	return nil
}

// insertRefresh stores t, and its family if that is new, inside tx.
func (s *Store) insertRefresh(ctx context.Context, tx *sql.Tx, t store.RefreshToken, args []any) error {
	if _, err := tx.StmtContext(ctx, s.createFamily).ExecContext(ctx,
		t.FamilyID, t.SessionIDHash, millis(t.FamilyExpiresAt)); err != nil {
		return fmt.Errorf("create family: %w", err)
	}
	res, err := tx.StmtContext(ctx, s.createRefreshToken).ExecContext(ctx, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrDuplicate
	}
	return nil
}

// refreshArgs validates t and returns createRefreshTokenSQL's arguments.
func refreshArgs(t store.RefreshToken) ([]any, error) {
	if len(t.Hash) == 0 || t.FamilyID == "" {
		return nil, errEmptyKey
	}
	claims, err := encodeJSON("claims", t.Claims)
	if err != nil {
		return nil, err
	}
	scope, err := encodeJSON("scope", t.Scope)
	if err != nil {
		return nil, err
	}
	return []any{t.Hash, t.FamilyID, t.ClientID, t.Subject, claims, scope, t.Nonce,
		millis(t.AuthTime), millis(t.IssuedAt), millis(t.ExpiresAt)}, nil
}
