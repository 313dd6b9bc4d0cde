package sqlstore

import (
	"context"
	"slices"
	"time"

	"github.com/keystile/keystile/store"
)

// requestColumns are the columns a read returns, in scanRequest's order.
const requestColumns = `browser_hash, csrf_hash, client_id, redirect_uri, state, challenge, nonce, scope, expires_at, resources`

const (
	createRequestSQL = `INSERT INTO auth_requests (id_hash, ` + requestColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id_hash) DO NOTHING`
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
	const op = "create auth request"
	if len(r.IDHash) == 0 {
		return s.fail(op, errEmptyKey)
	}
	scope, err := encodeJSON("scope", r.Scope)
	if err != nil {
		return s.fail(op, err)
	}
	resources, err := encodeJSON("resources", r.Resources)
	if err != nil {
		return s.fail(op, err)
	}
	n, err := s.db.Exec(ctx, createRequest,
		r.IDHash, r.BrowserHash, r.CSRFHash, r.ClientID, r.RedirectURI, s.textArg(r.State),
		r.Challenge, s.textArg(r.Nonce), scope, s.timeArg(r.ExpiresAt), resources)
	if err == nil {
		err = inserted(n)
	}
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// GetAuthRequest implements [store.AuthRequests].
func (s *Store) GetAuthRequest(ctx context.Context, idHash []byte, now time.Time) (store.AuthRequest, error) {
	r, err := s.scanRequest(s.db.QueryRow(ctx, getRequest, idHash, s.timeArg(now)), idHash)
	if err != nil {
		return store.AuthRequest{}, s.fail("get auth request", err)
	}
	return r, nil
}

// ConsumeAuthRequest implements [store.AuthRequests] with a single
// DELETE … RETURNING.
func (s *Store) ConsumeAuthRequest(ctx context.Context, idHash []byte, now time.Time) (store.AuthRequest, error) {
	r, err := s.scanRequest(s.db.QueryRow(ctx, consumeRequest, idHash, s.timeArg(now)), idHash)
	if err != nil {
		return store.AuthRequest{}, s.fail("consume auth request", err)
	}
	return r, nil
}

func (s *Store) scanRequest(row Row, idHash []byte) (store.AuthRequest, error) {
	r := store.AuthRequest{IDHash: slices.Clone(idHash)}
	var state, nonce, scope, resources []byte
	err := row.Scan(&r.BrowserHash, &r.CSRFHash, &r.ClientID, &r.RedirectURI, &state,
		&r.Challenge, &nonce, &scope, timeDest(&r.ExpiresAt), &resources)
	if isNoRows(err) {
		return store.AuthRequest{}, store.ErrNotFound
	}
	if err != nil {
		return store.AuthRequest{}, err
	}
	if err := decodeJSON("scope", scope, &r.Scope); err != nil {
		return store.AuthRequest{}, err
	}
	if err := decodeJSON("resources", resources, &r.Resources); err != nil {
		return store.AuthRequest{}, err
	}
	r.State, r.Nonce = string(state), string(nonce)
	return r, nil
}
