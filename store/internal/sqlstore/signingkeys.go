package sqlstore

import (
	"context"
	"math"

	"github.com/keystile/keystile/store"
)

// The signing keys' statements. A generation or a key id that is taken
// changes nothing (ON CONFLICT DO NOTHING), which is how of two replicas
// creating one generation exactly one wins. The keys are read one row per
// statement, newest first: they are few (see store.SigningKeys), and it keeps
// a [Querier] to Exec and QueryRow.
const (
	addSigningKeySQL = `INSERT INTO signing_keys (generation, kid, algorithm, material, created_at, active_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`
	olderSigningKeySQL = `SELECT generation, kid, algorithm, material, created_at, active_at
		FROM signing_keys WHERE generation < $1 ORDER BY generation DESC LIMIT 1`
	deleteSigningKeysSQL = `DELETE FROM signing_keys WHERE generation < $1`
)

// AddSigningKey implements [store.SigningKeys].
func (s *Store) AddSigningKey(ctx context.Context, k store.StoredKey) error {
	const op = "add signing key"
	if k.Generation < 1 || k.KeyID == "" || len(k.Material) == 0 {
		return s.fail(op, errEmptyKey)
	}
	n, err := s.db.Exec(ctx, addSigningKey, k.Generation, k.KeyID, k.Algorithm, k.Material,
		s.timeArg(k.CreatedAt), s.timeArg(k.ActiveAt))
	if err != nil {
		return s.fail(op, err)
	}
	return inserted(n)
}

// ListSigningKeys implements [store.SigningKeys].
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.StoredKey, error) {
	var keys []store.StoredKey
	below := int64(math.MaxInt64)
	for {
		var k store.StoredKey
		err := s.db.QueryRow(ctx, olderSigningKey, below).Scan(&k.Generation, &k.KeyID, &k.Algorithm,
			&k.Material, timeDest(&k.CreatedAt), timeDest(&k.ActiveAt))
		if isNoRows(err) {
			return keys, nil
		}
		if err != nil {
			return nil, s.fail("list signing keys", err)
		}
		keys = append(keys, k)
		below = k.Generation
	}
}

// DeleteSigningKeys implements [store.SigningKeys].
func (s *Store) DeleteSigningKeys(ctx context.Context, below int64) (int64, error) {
	n, err := s.db.Exec(ctx, deleteSigningKeys, below)
	if err != nil {
		return 0, s.fail("delete signing keys", err)
	}
	return n, nil
}
