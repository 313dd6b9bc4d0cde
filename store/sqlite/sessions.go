package sqlite

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

const (
	createSessionSQL = `INSERT INTO sessions (id_hash, subject, claims, auth_time, expires_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (id_hash) DO NOTHING`
	getSessionSQL = `SELECT subject, claims, auth_time, expires_at FROM sessions
		WHERE id_hash = ? AND expires_at > ?`
	endSessionSQL            = `DELETE FROM sessions WHERE id_hash = ?`
	revokeSessionFamiliesSQL = `UPDATE refresh_families SET revoked = 1 WHERE session_hash = ?`
	// RenewSession moves the old session's grants to the new one. Codes
	// have no index on session_hash: they live for a minute, so the table
	// stays small, and a renewal happens only at an explicit new sign-in.
	moveSessionFamiliesSQL = `UPDATE refresh_families SET session_hash = ? WHERE session_hash = ?`
	moveSessionCodesSQL    = `UPDATE auth_codes SET session_hash = ? WHERE session_hash = ?`
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
	res, err := s.createSession.ExecContext(ctx,
		sess.IDHash, sess.Subject, claims, millis(sess.AuthTime), millis(sess.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	return insertedOne(res, "create session")
}

// GetSession implements [store.Sessions].
func (s *Store) GetSession(ctx context.Context, idHash []byte, now time.Time) (store.Session, error) {
	sess := store.Session{IDHash: slices.Clone(idHash)}
	var claims string
	var authTime, exp int64
	err := s.getSession.QueryRowContext(ctx, idHash, millis(now)).Scan(&sess.Subject, &claims, &authTime, &exp)
	if isNoRows(err) {
		return store.Session{}, fmt.Errorf("sqlite: get session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: get session: %w", err)
	}
	if err := decodeJSON("claims", claims, &sess.Claims); err != nil {
		return store.Session{}, err
	}
	sess.AuthTime = fromMillis(authTime)
	sess.ExpiresAt = fromMillis(exp)
	return sess, nil
}

// EndSession implements [store.Sessions]. With revokeTokens, the delete and
// the revocation share one transaction, so no refresh lands between them.
func (s *Store) EndSession(ctx context.Context, idHash []byte, revokeTokens bool) error {
	// An empty hash names no session; it must not match the families that
	// were issued outside any session.
	if !revokeTokens || len(idHash) == 0 {
		if _, err := s.endSession.ExecContext(ctx, idHash); err != nil {
			return fmt.Errorf("sqlite: end session: %w", err)
		}
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: end session: %w", err)
	}
	// After a Commit, Rollback does nothing.
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, s.endSession).ExecContext(ctx, idHash); err != nil {
		return fmt.Errorf("sqlite: end session: %w", err)
	}
	if _, err := tx.StmtContext(ctx, s.revokeSessionFamilies).ExecContext(ctx, idHash); err != nil {
		return fmt.Errorf("sqlite: end session: revoke families: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: end session: %w", err)
	}
	return nil
}

// RenewSession implements [store.Sessions] in one transaction, which takes
// the write lock at BEGIN (_txlock=immediate): of concurrent renewals of one
// session, in this process or another sharing the file, the first commits
// and the others then find the old session gone.
func (s *Store) RenewSession(ctx context.Context, oldIDHash []byte, next store.Session, now time.Time) error {
	if err := s.renew(ctx, oldIDHash, next, now); err != nil {
		return fmt.Errorf("sqlite: renew session: %w", err)
	}
	return nil
}

func (s *Store) renew(ctx context.Context, oldIDHash []byte, next store.Session, now time.Time) error {
	if len(next.IDHash) == 0 {
		return errEmptyKey
	}
	// An empty hash names no session; it must not match the families and
	// codes that were issued outside any session.
	if len(oldIDHash) == 0 {
		return store.ErrNotFound
	}
	claims, err := encodeJSON("claims", next.Claims)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// After a Commit, Rollback does nothing. A refused renewal rolls back,
	// so it changes nothing.
	defer tx.Rollback()
	// getSession's WHERE is the liveness rule; the old values are not needed.
	var subject, oldClaims string
	var authTime, exp int64
	err = tx.StmtContext(ctx, s.getSession).QueryRowContext(ctx, oldIDHash, millis(now)).
		Scan(&subject, &oldClaims, &authTime, &exp)
	if isNoRows(err) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	res, err := tx.StmtContext(ctx, s.createSession).ExecContext(ctx,
		next.IDHash, next.Subject, claims, millis(next.AuthTime), millis(next.ExpiresAt))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrDuplicate
	}
	if _, err := tx.StmtContext(ctx, s.moveSessionFamilies).ExecContext(ctx, next.IDHash, oldIDHash); err != nil {
		return fmt.Errorf("move families: %w", err)
	}
	if _, err := tx.StmtContext(ctx, s.moveSessionCodes).ExecContext(ctx, next.IDHash, oldIDHash); err != nil {
		return fmt.Errorf("move codes: %w", err)
	}
	if _, err := tx.StmtContext(ctx, s.endSession).ExecContext(ctx, oldIDHash); err != nil {
		return fmt.Errorf("end the old session: %w", err)
	}
	return tx.Commit()
}
