package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keystile/keystile/store"
)

// refreshColumns are the columns of refresh_tokens a create writes, in
// createRefreshTokenSQL's order; used_at is left NULL.
const refreshColumns = `hash, family_id, client_id, subject, claims, scope, nonce,
	auth_time, issued_at, expires_at`

const (
	// The first token of a family creates it; a later one keeps the
	// family's session, expiry and revocation as they are.
	createFamilySQL = `INSERT INTO refresh_families (id, session_hash, expires_at)
		VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`
	createRefreshTokenSQL = `INSERT INTO refresh_tokens (` + refreshColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (hash) DO NOTHING`
	getRefreshTokenSQL = `SELECT t.family_id, t.client_id, t.subject, t.claims, t.scope, t.nonce,
			t.auth_time, t.issued_at, t.expires_at, t.used_at, f.session_hash, f.expires_at
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.hash = $1 AND NOT f.revoked AND t.expires_at > $2 AND f.expires_at > $2`
	// rotateCheckSQL is the part of getRefreshTokenSQL a rotation needs,
	// locking the token and its family until the rotation commits: a second
	// rotation of the token waits, then reads it used; a RevokeFamily or
	// EndSession waits, then revokes the new token with the family. It finds
	// tokens of revoked families too: a used one is still a replay.
	rotateCheckSQL = `SELECT t.family_id, t.used_at, f.revoked
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.hash = $1 AND t.expires_at > $2 AND f.expires_at > $2
		FOR NO KEY UPDATE OF t, f`
	markRefreshUsedSQL = `UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL`
	revokeFamilySQL    = `UPDATE refresh_families SET revoked = true WHERE id = $1 AND NOT revoked`
	// tombstoneFamilySQL revokes a family that may not exist yet, recording
	// it revoked until the given time; an existing one keeps its expiry.
	tombstoneFamilySQL = `INSERT INTO refresh_families (id, revoked, expires_at) VALUES ($1, true, $2)
		ON CONFLICT (id) DO UPDATE SET revoked = true`
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
		return fmt.Errorf("postgres: create refresh token: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, createFamilySQL, t.FamilyID, t.SessionIDHash, ms(t.FamilyExpiresAt)); err != nil {
			return fmt.Errorf("create family: %w", err)
		}
		return insertRefresh(ctx, tx, args)
	})
	if err != nil {
		return fmt.Errorf("postgres: create refresh token: %w", err)
	}
	return nil
}

// GetRefreshToken implements [store.RefreshTokens].
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte, now time.Time) (store.RefreshToken, error) {
	t := store.RefreshToken{Hash: slices.Clone(hash)}
	var claims, scope string
	var nonce []byte
	var authTime, issuedAt, exp, familyExp time.Time
	var used *time.Time
	err := s.pool.QueryRow(ctx, getRefreshTokenSQL, hash, ms(now)).Scan(
		&t.FamilyID, &t.ClientID, &t.Subject, &claims, &scope, &nonce,
		&authTime, &issuedAt, &exp, &used, &t.SessionIDHash, &familyExp)
	if isNoRows(err) {
		return store.RefreshToken{}, fmt.Errorf("postgres: get refresh token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("postgres: get refresh token: %w", err)
	}
	if err := decodeJSON("claims", claims, &t.Claims); err != nil {
		return store.RefreshToken{}, err
	}
	if err := decodeJSON("scope", scope, &t.Scope); err != nil {
		return store.RefreshToken{}, err
	}
	t.Nonce = string(nonce)
	t.AuthTime = fromDB(authTime)
	t.IssuedAt = fromDB(issuedAt)
	t.ExpiresAt = fromDB(exp)
	t.FamilyExpiresAt = fromDB(familyExp)
	t.UsedAt = usedAt(used)
	return t, nil
}

// RotateRefreshToken implements [store.RefreshTokens] in one transaction
// whose first statement locks the old token and its family (rotateCheckSQL):
// of concurrent rotations of one token, on this replica or another, exactly
// one reads it unused.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken, now time.Time) error {
	if err := s.rotate(ctx, oldHash, next, now); err != nil {
		return fmt.Errorf("postgres: rotate refresh token: %w", err)
	}
	return nil
}

func (s *Store) rotate(ctx context.Context, oldHash []byte, next store.RefreshToken, now time.Time) error {
	args, err := refreshArgs(next)
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	// After a Commit, Rollback does nothing. A refused rotation rolls back,
	// so it changes nothing.
	defer tx.Rollback(ctx)
	var familyID string
	var used *time.Time
	var revoked bool
	err = tx.QueryRow(ctx, rotateCheckSQL, oldHash, ms(now)).Scan(&familyID, &used, &revoked)
	if isNoRows(err) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	// A used token is reported as reused even once its family is revoked,
	// so that every replay, not only the first, is seen as one.
	if used != nil {
		// RFC 9700 §4.14.2: the server cannot tell the legitimate client
		// from the thief, so the whole family goes.
		if _, err := tx.Exec(ctx, revokeFamilySQL, familyID); err != nil {
			return fmt.Errorf("revoke family: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
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
	// The family exists and is locked: only the token is new.
	if _, err := tx.Exec(ctx, markRefreshUsedSQL, ms(now), oldHash); err != nil {
		return err
	}
	if err := insertRefresh(ctx, tx, args); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// RevokeFamily implements [store.RefreshTokens] with one UPDATE.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) error {
	if _, err := s.pool.Exec(ctx, revokeFamilySQL, familyID); err != nil {
		return fmt.Errorf("postgres: revoke family: %w", err)
	}
	return nil
}

// insertRefresh stores a token whose family exists, inside tx.
func insertRefresh(ctx context.Context, tx pgx.Tx, args []any) error {
	tag, err := tx.Exec(ctx, createRefreshTokenSQL, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
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
	return []any{t.Hash, t.FamilyID, t.ClientID, t.Subject, claims, scope, raw(t.Nonce),
		ms(t.AuthTime), ms(t.IssuedAt), ms(t.ExpiresAt)}, nil
}
