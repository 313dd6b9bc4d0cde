package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keystile/keystile/store"
)

// requestColumns are the columns a read returns, in scanRequest's order.
const requestColumns = `browser_hash, csrf_hash, client_id, redirect_uri, state, challenge, nonce, scope, expires_at`

const (
	// ON CONFLICT DO NOTHING turns a taken key into "0 rows" instead of a
	// unique-violation error, and leaves the first record as it was.
	createRequestSQL = `INSERT INTO auth_requests (id_hash, ` + requestColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id_hash) DO NOTHING`
	getRequestSQL = `SELECT ` + requestColumns + ` FROM auth_requests
		WHERE id_hash = $1 AND expires_at > $2`
	// One statement checks and deletes, so of many concurrent consumes
	// exactly one gets the row: the others wait for its lock, then find it
	// gone.
	consumeRequestSQL = `DELETE FROM auth_requests
		WHERE id_hash = $1 AND expires_at > $2 RETURNING ` + requestColumns
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
	tag, err := s.pool.Exec(ctx, createRequestSQL,
		r.IDHash, r.BrowserHash, r.CSRFHash, r.ClientID, r.RedirectURI, raw(r.State),
		r.Challenge, raw(r.Nonce), scope, ms(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("postgres: create auth request: %w", err)
	}
	return insertedOne(tag, "create auth request")
}

// GetAuthRequest implements [store.AuthRequests].
func (s *Store) GetAuthRequest(ctx context.Context, idHash []byte, now time.Time) (store.AuthRequest, error) {
	r, err := scanRequest(s.pool.QueryRow(ctx, getRequestSQL, idHash, ms(now)), idHash)
	if err != nil {
		return store.AuthRequest{}, fmt.Errorf("postgres: get auth request: %w", err)
	}
	return r, nil
}

// ConsumeAuthRequest implements [store.AuthRequests] with a single
// DELETE … RETURNING.
func (s *Store) ConsumeAuthRequest(ctx context.Context, idHash []byte, now time.Time) (store.AuthRequest, error) {
	r, err := scanRequest(s.pool.QueryRow(ctx, consumeRequestSQL, idHash, ms(now)), idHash)
	if err != nil {
		return store.AuthRequest{}, fmt.Errorf("postgres: consume auth request: %w", err)
	}
	return r, nil
}

func scanRequest(row pgx.Row, idHash []byte) (store.AuthRequest, error) {
	r := store.AuthRequest{IDHash: slices.Clone(idHash)}
	var state, nonce []byte
	var scope string
	var exp time.Time
	err := row.Scan(&r.BrowserHash, &r.CSRFHash, &r.ClientID, &r.RedirectURI, &state,
		&r.Challenge, &nonce, &scope, &exp)
	if isNoRows(err) {
		return store.AuthRequest{}, store.ErrNotFound
	}
	if err != nil {
		return store.AuthRequest{}, err
	}
	if err := decodeJSON("scope", scope, &r.Scope); err != nil {
		return store.AuthRequest{}, err
	}
	r.State, r.Nonce = string(state), string(nonce)
	r.ExpiresAt = fromDB(exp)
	return r, nil
}
