package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keystile/keystile/store"
)

const (
	createSessionSQL = `INSERT INTO sessions (id_hash, subject, claims, auth_time, expires_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id_hash) DO NOTHING`
	getSessionSQL = `SELECT subject, claims, auth_time, expires_at FROM sessions
		WHERE id_hash = $1 AND expires_at > $2`
	endSessionSQL = `DELETE FROM sessions WHERE id_hash = $1`
	// The UPDATE takes each family's row lock: a rotation in one of them
	// either finishes first (and its new token is revoked with the family)
	// or waits, then finds the family revoked.
	revokeSessionFamiliesSQL = `UPDATE refresh_families SET revoked = true
		WHERE session_hash = $1 AND NOT revoked`
	// lockSessionSQL is RenewSession's first statement: it locks the old
	// session's row, so that a second renewal or an EndSession of it waits
	// for this one, then finds the row gone.
	lockSessionSQL = `SELECT 1 FROM sessions WHERE id_hash = $1 AND expires_at > $2 FOR UPDATE`
	// RenewSession moves the old session's grants to the new one. Codes
	// have no index on session_hash: they live for a minute, so the table
	// stays small, and a renewal happens only at an explicit new sign-in.
	moveSessionFamiliesSQL = `UPDATE refresh_families SET session_hash = $1 WHERE session_hash = $2`
	moveSessionCodesSQL    = `UPDATE auth_codes SET session_hash = $1 WHERE session_hash = $2`
)

// CreateSession implements [store.Sessions].
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if len(sess.IDHash) == 0 {
		return errEmptyKey
	}
	claims, err := encodeJSON("claims", sess.Claims)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, createSessionSQL,
		sess.IDHash, sess.Subject, claims, ms(sess.AuthTime), ms(sess.ExpiresAt))
	if err != nil {
		return fmt.Errorf("postgres: create session: %w", err)
	}
	return insertedOne(tag, "create session")
}

// GetSession implements [store.Sessions].
func (s *Store) GetSession(ctx context.Context, idHash []byte, now time.Time) (store.Session, error) {
	sess := store.Session{IDHash: slices.Clone(idHash)}
	var claims string
	var authTime, exp time.Time
	err := s.pool.QueryRow(ctx, getSessionSQL, idHash, ms(now)).Scan(&sess.Subject, &claims, &authTime, &exp)
	if isNoRows(err) {
		return store.Session{}, fmt.Errorf("postgres: get session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("postgres: get session: %w", err)
	}
	if err := decodeJSON("claims", claims, &sess.Claims); err != nil {
		return store.Session{}, err
	}
	sess.AuthTime = fromDB(authTime)
	sess.ExpiresAt = fromDB(exp)
	return sess, nil
}

// EndSession implements [store.Sessions]. With revokeTokens, the delete and
// the revocation share one transaction, so that no other replica sees the
// session gone while its families still refresh.
func (s *Store) EndSession(ctx context.Context, idHash []byte, revokeTokens bool) error {
	// An empty hash names no session; it must not match the families that
	// were issued outside any session.
	if !revokeTokens || len(idHash) == 0 {
		if _, err := s.pool.Exec(ctx, endSessionSQL, idHash); err != nil {
			return fmt.Errorf("postgres: end session: %w", err)
		}
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, endSessionSQL, idHash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, revokeSessionFamiliesSQL, idHash); err != nil {
			return fmt.Errorf("revoke families: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: end session: %w", err)
	}
	return nil
}

// RenewSession implements [store.Sessions] in one transaction whose first
// statement locks the old session's row (lockSessionSQL): of concurrent
// renewals of one session, on this replica or another, the first commits and
// the others then find the old session gone.
func (s *Store) RenewSession(ctx context.Context, oldIDHash []byte, next store.Session, now time.Time) error {
	if len(next.IDHash) == 0 {
		return errEmptyKey
	}
	// An empty hash names no session; it must not match the families and
	// codes that were issued outside any session.
	if len(oldIDHash) == 0 {
		return fmt.Errorf("postgres: renew session: %w", store.ErrNotFound)
	}
	claims, err := encodeJSON("claims", next.Claims)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, lockSessionSQL, oldIDHash, ms(now)).Scan(&one)
		if isNoRows(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, createSessionSQL,
			next.IDHash, next.Subject, claims, ms(next.AuthTime), ms(next.ExpiresAt))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrDuplicate
		}
		if _, err := tx.Exec(ctx, moveSessionFamiliesSQL, next.IDHash, oldIDHash); err != nil {
			return fmt.Errorf("move families: %w", err)
		}
		if _, err := tx.Exec(ctx, moveSessionCodesSQL, next.IDHash, oldIDHash); err != nil {
			return fmt.Errorf("move codes: %w", err)
		}
		if _, err := tx.Exec(ctx, endSessionSQL, oldIDHash); err != nil {
			return fmt.Errorf("end the old session: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: renew session: %w", err)
	}
	return nil
}
