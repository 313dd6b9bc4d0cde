package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

// requestColumns are the columns a read returns, in scanRequest's order.
const requestColumns = `browser_hash, csrf_hash, client_id, redirect_uri, state, challenge, nonce, scope, expires_at`

const (
	// ON CONFLICT DO NOTHING turns a taken key into "0 rows" instead of a
	// driver-specific constraint error, and leaves the first record as it was.
	createRequestSQL = `INSERT INTO auth_requests (id_hash, ` + requestColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id_hash) DO NOTHING`
	getRequestSQL = `SELECT ` + requestColumns + ` FROM auth_requests
		WHERE id_hash = ? AND expires_at > ?`
	// One statement checks and deletes, so of many concurrent consumes
	// exactly one gets the row.
	consumeRequestSQL = `DELETE FROM auth_requests
		WHERE id_hash = ? AND expires_at > ? RETURNING ` + requestColumns
)

// CreateAuthRequest implements [store.AuthRequests].
func (s *Store) CreateAuthRequest(ctx context.Context, r store.AuthRequest) error {
	if len(r.IDHash) == 0 {
		return errEmptyKey
	}
	scope, err := encodeJSON("scope", r.Scope)
	if err != nil {
		return err
	}
	res, err := s.createRequest.ExecContext(ctx,
		r.IDHash, r.BrowserHash, r.CSRFHash, r.ClientID, r.RedirectURI, r.State,
		r.Challenge, r.Nonce, scope, millis(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: create auth request: %w", err)
	}
	return insertedOne(res, "create auth request")
}

// GetAuthRequest implements [store.AuthRequests].
func (s *Store) GetAuthRequest(ctx context.Context, idHash []byte, now time.Time) (store.AuthRequest, error) {
	r, err := scanRequest(s.getRequest.QueryRowContext(ctx, idHash, millis(now)), idHash)
	if err != nil {
		return store.AuthRequest{}, fmt.Errorf("sqlite: get auth request: %w", err)
	}
	return r, nil
}

// ConsumeAuthRequest implements [store.AuthRequests] with a single
// DELETE … RETURNING.
func (s *Store) ConsumeAuthRequest(ctx context.Context, idHash []byte, now time.Time) (store.AuthRequest, error) {
	r, err := scanRequest(s.consumeRequest.QueryRowContext(ctx, idHash, millis(now)), idHash)
	if err != nil {
		return store.AuthRequest{}, fmt.Errorf("sqlite: consume auth request: %w", err)
	}
	return r, nil
}

func scanRequest(row *sql.Row, idHash []byte) (store.AuthRequest, error) {
	r := store.AuthRequest{IDHash: slices.Clone(idHash)}
	var scope string
	var exp int64
	err := row.Scan(&r.BrowserHash, &r.CSRFHash, &r.ClientID, &r.RedirectURI, &r.State,
		&r.Challenge, &r.Nonce, &scope, &exp)
	if isNoRows(err) {
		return store.AuthRequest{}, store.ErrNotFound
	}
	if err != nil {
		return store.AuthRequest{}, err
	}
	if err := decodeJSON("scope", scope, &r.Scope); err != nil {
		return store.AuthRequest{}, err
	}
	r.ExpiresAt = fromMillis(exp)
	return r, nil
}
