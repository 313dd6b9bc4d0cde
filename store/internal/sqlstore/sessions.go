package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

const (
	createSessionSQL = `INSERT INTO sessions (id_hash, subject, claims, auth_time, expires_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id_hash) DO NOTHING`
	getSessionSQL = `SELECT subject, claims, auth_time, expires_at FROM sessions
		WHERE id_hash = $1 AND expires_at > $2`
	// lockSessionSQL is RenewSession's first statement, getSessionSQL's
	// liveness rule without the values: with row locks it locks the old
	// session's row, so that a second renewal or an EndSession of it waits
	// for this one, then finds the row gone.
	lockSessionSQL = `SELECT 1 FROM sessions WHERE id_hash = $1 AND expires_at > $2`
	endSessionSQL  = `DELETE FROM sessions WHERE id_hash = $1`
	// The UPDATE takes each family's row lock: a rotation in one of them
	// either finishes first (and its new token is revoked with the family)
	// or waits, then finds the family revoked.
	revokeSessionFamiliesSQL = `UPDATE refresh_families SET revoked = TRUE
		WHERE session_hash = $1 AND NOT revoked`
	// RenewSession moves the old session's grants to the new one. Codes
	// have no index on session_hash: they live for a minute, so the table
	// stays small, and a renewal happens only at an explicit new sign-in.
	moveSessionFamiliesSQL = `UPDATE refresh_families SET session_hash = $1 WHERE session_hash = $2`
	moveSessionCodesSQL    = `UPDATE auth_codes SET session_hash = $1 WHERE session_hash = $2`
)

// CreateSession implements [store.Sessions].
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	const op = "create session"
	if len(sess.IDHash) == 0 {
		return s.fail(op, errEmptyKey)
	}
	claims, err := encodeJSON("claims", sess.Claims)
	if err != nil {
		return s.fail(op, err)
	}
	if err := s.insertSession(ctx, s.db, sess, claims); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// insertSession stores sess with its encoded claims; ErrDuplicate if its
// IDHash is taken.
func (s *Store) insertSession(ctx context.Context, q Querier, sess store.Session, claims string) error {
	n, err := q.Exec(ctx, createSession,
		sess.IDHash, sess.Subject, claims, s.timeArg(sess.AuthTime), s.timeArg(sess.ExpiresAt))
	if err != nil {
		return err
	}
	return inserted(n)
}

// GetSession implements [store.Sessions].
func (s *Store) GetSession(ctx context.Context, idHash []byte, now time.Time) (store.Session, error) {
	const op = "get session"
	sess := store.Session{IDHash: slices.Clone(idHash)}
	var claims []byte
	err := s.db.QueryRow(ctx, getSession, idHash, s.timeArg(now)).
		Scan(&sess.Subject, &claims, timeDest(&sess.AuthTime), timeDest(&sess.ExpiresAt))
	if isNoRows(err) {
		return store.Session{}, s.fail(op, store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, s.fail(op, err)
	}
	if err := decodeJSON("claims", claims, &sess.Claims); err != nil {
		return store.Session{}, s.fail(op, err)
	}
	return sess, nil
}

// EndSession implements [store.Sessions]. With revokeTokens, the delete and
// the revocation share one transaction, so that no other connection or
// replica sees the session gone while its families still refresh.
func (s *Store) EndSession(ctx context.Context, idHash []byte, revokeTokens bool) error {
	const op = "end session"
	// An empty hash names no session; it must not match the families that
	// were issued outside any session.
	if !revokeTokens || len(idHash) == 0 {
		if _, err := s.db.Exec(ctx, endSession, idHash); err != nil {
			return s.fail(op, err)
		}
		return nil
	}
	err := s.db.InTx(ctx, func(tx Querier) error {
		return endSessionRevoking(ctx, tx, idHash)
	})
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// RenewSession implements [store.Sessions] in one transaction that locks
// the old session first (lockSessionSQL, or the database's write lock
// without row locks): of concurrent renewals of one session, on this
// replica or another, the first commits and the others then find the old
// session gone. A refused renewal rolls back, so it changes nothing.
func (s *Store) RenewSession(ctx context.Context, oldIDHash []byte, next store.Session, now time.Time) error {
	const op = "renew session"
	if len(next.IDHash) == 0 {
		return s.fail(op, errEmptyKey)
	}
	// An empty hash names no session; it must not match the families and
	// codes that were issued outside any session.
	if len(oldIDHash) == 0 {
		return s.fail(op, store.ErrNotFound)
	}
	claims, err := encodeJSON("claims", next.Claims)
	if err != nil {
		return s.fail(op, err)
	}
	err = s.db.InTx(ctx, func(tx Querier) error {
		found, err := s.renewSession(ctx, tx, oldIDHash, next, claims, now)
		if err == nil && !found {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// renewSession renews the session oldIDHash into next inside tx, as
// RenewSession describes, and reports whether the old session was live at
// now; if it was not, it changes nothing.
func (s *Store) renewSession(ctx context.Context, tx Querier, oldIDHash []byte, next store.Session, claims string, now time.Time) (found bool, err error) {
	var one int
	err = tx.QueryRow(ctx, lockSession, oldIDHash, s.timeArg(now)).Scan(&one)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := s.insertSession(ctx, tx, next, claims); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, moveSessionFamilies, next.IDHash, oldIDHash); err != nil {
		return false, fmt.Errorf("move families: %w", err)
	}
	if _, err := tx.Exec(ctx, moveSessionCodes, next.IDHash, oldIDHash); err != nil {
		return false, fmt.Errorf("move codes: %w", err)
	}
	if _, err := tx.Exec(ctx, endSession, oldIDHash); err != nil {
		return false, fmt.Errorf("end the old session: %w", err)
	}
	return true, nil
}

// endSessionRevoking deletes the session idHash and revokes its
// refresh-token families inside tx.
func endSessionRevoking(ctx context.Context, tx Querier, idHash []byte) error {
	if _, err := tx.Exec(ctx, endSession, idHash); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, revokeSessionFamilies, idHash); err != nil {
		return fmt.Errorf("revoke families: %w", err)
	}
	return nil
}
