package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

// refreshColumns are the columns of refresh_tokens a create writes, in
// createRefreshTokenSQL's order; used_at is left NULL.
const refreshColumns = `hash, family_id, client_id, subject, claims, scope, nonce,
	auth_time, issued_at, expires_at, resources`

const (
	// The first token of a family creates it; a later one keeps the
	// family's session, expiry and revocation as they are.
	createFamilySQL = `INSERT INTO refresh_families (id, session_hash, expires_at)
		VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`
	createRefreshTokenSQL = `INSERT INTO refresh_tokens (` + refreshColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (hash) DO NOTHING`
	getRefreshTokenSQL = `SELECT t.family_id, t.client_id, t.subject, t.claims, t.scope, t.nonce,
			t.auth_time, t.issued_at, t.expires_at, t.used_at, f.session_hash, f.expires_at, t.resources
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.hash = $1 AND NOT f.revoked AND t.expires_at > $2 AND f.expires_at > $3`
	// rotateSQL is a rotation's first statement and, for a token that can
	// be rotated, its decision: it marks the token used only if it is
	// unused, live, in next's family, and the family is live and not
	// revoked. With row locks, a second rotation of the token waits for
	// this one's row lock, then re-reads the row used and changes nothing.
	// The family's row is not locked: a RevokeFamily or EndSession that
	// commits before the successor is inserted revokes it all the same,
	// since revocation is the family's (getRefreshTokenSQL).
	rotateSQL = `UPDATE refresh_tokens SET used_at = $1
		WHERE hash = $2 AND used_at IS NULL AND expires_at > $3 AND family_id = $4
		AND family_id IN (SELECT id FROM refresh_families WHERE id = $5 AND NOT revoked AND expires_at > $6)`
	// rotateCheckSQL says why rotateSQL changed nothing: the part of
	// getRefreshTokenSQL a rotation needs. It finds tokens of revoked
	// families too: a used one is still a replay. With row locks it locks
	// the token and its family until the replay's revocation commits.
	rotateCheckSQL = `SELECT t.family_id, t.used_at IS NOT NULL, f.revoked
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.hash = $1 AND t.expires_at > $2 AND f.expires_at > $3`
	revokeFamilySQL = `UPDATE refresh_families SET revoked = TRUE WHERE id = $1 AND NOT revoked`
	// tombstoneFamilySQL revokes a family that may not exist yet, recording
	// it revoked until the given time; an existing one keeps its expiry.
	tombstoneFamilySQL = `INSERT INTO refresh_families (id, revoked, expires_at) VALUES ($1, TRUE, $2)
		ON CONFLICT (id) DO UPDATE SET revoked = TRUE`
)

var errOtherFamily = errors.New("next token is in another family")

// CreateRefreshToken implements [store.RefreshTokens]. The first token of a
// family creates it, with the token's SessionIDHash and FamilyExpiresAt; a
// token created in a family that exists takes the family's, and one created
// in a revoked family is revoked from birth. t.UsedAt is ignored: a new
// token is unused. The family and the token are one transaction, or on
// PostgreSQL one statement (createFamilyTokenSQL).
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	const op = "create refresh token"
	var err error
	if s.d.WritingCTEs {
		err = s.createFamilyToken(ctx, s.db, t)
	} else {
		err = s.db.InTx(ctx, func(tx Querier) error { return s.createFamilyToken(ctx, tx, t) })
	}
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// createFamilyToken stores t and, unless it exists, its family, with q:
// one statement where the dialect has writing CTEs, two otherwise, which q
// must then run in a transaction.
func (s *Store) createFamilyToken(ctx context.Context, q Querier, t store.RefreshToken) error {
	args, err := s.refreshArgs(t)
	if err != nil {
		return err
	}
	familyArgs := []any{t.FamilyID, t.SessionIDHash, s.timeArg(t.FamilyExpiresAt)}
	if s.d.WritingCTEs {
		// One statement: inside a transaction it is the last, and goes
		// out with the COMMIT where q can send them together. (Two
		// statements could not: the first would commit alone.)
		_, err := execLast(ctx, q, createFamilyToken, append(familyArgs, args...)...)
		if err != nil && s.d.Duplicate(err) {
			return store.ErrDuplicate
		}
		return err
	}
	if _, err := q.Exec(ctx, createFamily, familyArgs...); err != nil {
		return fmt.Errorf("create family: %w", err)
	}
	return insertRefresh(ctx, q, args)
}

// GetRefreshToken implements [store.RefreshTokens].
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte, now time.Time) (store.RefreshToken, error) {
	const op = "get refresh token"
	t := store.RefreshToken{Hash: slices.Clone(hash)}
	var claims, scope, nonce, resources []byte
	at := s.timeArg(now)
	err := s.db.QueryRow(ctx, getRefreshToken, hash, at, at).Scan(
		&t.FamilyID, &t.ClientID, &t.Subject, &claims, &scope, &nonce,
		timeDest(&t.AuthTime), timeDest(&t.IssuedAt), timeDest(&t.ExpiresAt),
		timeDest(&t.UsedAt), &t.SessionIDHash, timeDest(&t.FamilyExpiresAt), &resources)
	if isNoRows(err) {
		return store.RefreshToken{}, s.fail(op, store.ErrNotFound)
	}
	if err != nil {
		return store.RefreshToken{}, s.fail(op, err)
	}
	if err := decodeJSON("claims", claims, &t.Claims); err != nil {
		return store.RefreshToken{}, s.fail(op, err)
	}
	if err := decodeJSON("scope", scope, &t.Scope); err != nil {
		return store.RefreshToken{}, s.fail(op, err)
	}
	if err := decodeJSON("resources", resources, &t.Resources); err != nil {
		return store.RefreshToken{}, s.fail(op, err)
	}
	t.Nonce = string(nonce)
	return t, nil
}

// RotateRefreshToken implements [store.RefreshTokens] in one transaction
// whose first statement, rotateSQL, marks the old token used only if it
// can be rotated; a rotation that succeeds is that UPDATE and the
// successor's INSERT. Only when the UPDATE changes nothing does a second
// statement find out why (used: revoke the family; otherwise not found). Of
// concurrent rotations of one token, on this replica or another, exactly
// one changes its row (the others wait for its row lock, or without row
// locks for the write lock, then find it used). A refused rotation rolls
// back, so it changes nothing.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken, now time.Time) error {
	const op = "rotate refresh token"
	args, err := s.refreshArgs(next)
	if err != nil {
		return s.fail(op, err)
	}
	at := s.timeArg(now)
	rotateArgs := []any{at, oldHash, at, next.FamilyID, next.FamilyID, at}
	if s.d.WritingCTEs {
		// One statement for the rotation that succeeds; a refused one
		// changed nothing and is looked into below.
		n, err := s.db.Exec(ctx, rotateInsert, append(rotateArgs, args...)...)
		switch {
		case err != nil && s.d.Duplicate(err):
			return s.fail(op, store.ErrDuplicate)
		case err != nil:
			return s.fail(op, err)
		case n == 1:
			return nil
		}
	}
	var reused bool
	err = s.db.InTx(ctx, func(tx Querier) error {
		if !s.d.WritingCTEs {
			n, err := tx.Exec(ctx, rotate, rotateArgs...)
			if err != nil {
				return err
			}
			if n == 1 {
				// The family exists: only the token is new.
				return insertRefresh(ctx, tx, args)
			}
		}
		var err error
		reused, err = s.refuseRotation(ctx, tx, oldHash, next.FamilyID, now)
		return err
	})
	if err == nil && reused {
		err = store.ErrReused
	}
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// refuseRotation finds out, inside tx, why the token oldHash could not be
// rotated into familyID at now. A used token is a replay: its family is
// revoked (committed with tx) and reused reported, even once the family is
// revoked, so that every replay, not only the first, is seen as one.
func (s *Store) refuseRotation(ctx context.Context, tx Querier, oldHash []byte, familyID string, now time.Time) (reused bool, err error) {
	var family string
	var used, revoked bool
	at := s.timeArg(now)
	err = tx.QueryRow(ctx, rotateCheck, oldHash, at, at).Scan(&family, &used, &revoked)
	switch {
	case isNoRows(err):
		return false, store.ErrNotFound
	case err != nil:
		return false, err
	case used:
		// RFC 9700 §4.14.2: the server cannot tell the legitimate client
		// from the thief, so the whole family goes. The revocation
		// commits; the caller still learns of the reuse.
		if _, err := tx.Exec(ctx, revokeFamily, family); err != nil {
			return false, fmt.Errorf("revoke family: %w", err)
		}
		return true, nil
	case revoked:
		return false, store.ErrNotFound
	case family != familyID:
		return false, errOtherFamily
	}
	// Unused, live, in familyID and not revoked, yet rotateSQL missed it:
	// no rotation can have come between in one transaction.
	return false, errors.New("the token could not be rotated, and it is not clear why")
}

// RevokeFamily implements [store.RefreshTokens] with one UPDATE.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) error {
	if _, err := s.db.Exec(ctx, revokeFamily, familyID); err != nil {
		return s.fail("revoke family", err)
	}
	return nil
}

// insertRefresh stores a token whose family exists, inside tx.
func insertRefresh(ctx context.Context, tx Querier, args []any) error {
	n, err := tx.Exec(ctx, createRefreshToken, args...)
	if err != nil {
		return err
	}
	return inserted(n)
}

// refreshArgs validates t and returns createRefreshTokenSQL's arguments.
func (s *Store) refreshArgs(t store.RefreshToken) ([]any, error) {
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
	resources, err := encodeJSON("resources", t.Resources)
	if err != nil {
		return nil, err
	}
	return []any{t.Hash, t.FamilyID, t.ClientID, t.Subject, claims, scope, s.textArg(t.Nonce),
		s.timeArg(t.AuthTime), s.timeArg(t.IssuedAt), s.timeArg(t.ExpiresAt), resources}, nil
}
