package keystile

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// keyRing holds the keys of a running Server: the one that signs, the keys
// configured to verify alongside it, and retired signers. A retired signer
// keeps verifying, and stays in the JWKS, until every token it signed has
// expired: retirement + AccessTokenTTL + DefaultLeeway. Readers filter by
// the clock on every call, so a key leaves at that moment without a
// background goroutine; writers also drop the expired keys for good.
//
// The ring is read on every token issue, verification and JWKS request, so
// that a rotation is seen at once, with no restart. Remote verifiers follow
// the rotation through the JWKS as OpenID Connect Core §10.1.1 describes:
// they refetch it when a token names a kid they do not know.
type keyRing struct {
	// grace is how long a retired key outlives its retirement: the access
	// token lifetime plus the verifier's clock-skew leeway.
	grace time.Duration
	now   func() time.Time

	mu sync.RWMutex
	// keys[0] signs. Never empty once New has accepted the ring.
	keys []ringKey
}

// ringKey is one key of the ring. until is when it stops verifying; zero
// means never (the signer, and keys configured without a retirement).
type ringKey struct {
	key   SigningKey
	until time.Time
}

func (k ringKey) live(now time.Time) bool { return k.until.IsZero() || now.Before(k.until) }

// newKeyRing returns a ring of keys, with the meaning Config.Keys gives
// them: the first signs, a retired key verifies until its retirement plus
// the grace, any other key verifies with no expiry. accessTTL is the
// server's access token lifetime; now is its clock. The keys are checked by
// check, which NewVerifier calls, so that New reports a bad key.
func newKeyRing(keys []SigningKey, accessTTL time.Duration, now func() time.Time) *keyRing {
	r := &keyRing{grace: accessTTL + DefaultLeeway, now: now}
	if r.now == nil {
		r.now = time.Now
	}
	r.keys = r.ringKeys(keys, "")
	return r
}

// ringKeys turns keys into ring entries. current is the kid of the key
// that signs until now, if any (see set).
func (r *keyRing) ringKeys(keys []SigningKey, current string) []ringKey {
	now := r.now()
	out := make([]ringKey, 0, len(keys))
	for _, k := range keys {
		rk := ringKey{key: k}
		if retired := k.retired; !retired.IsZero() {
			// This server signed with its current key until now, whatever
			// the file says (another process may have rotated the file a
			// while ago): its tokens must outlive the file's date.
			if k.kid == current && retired.Before(now) {
				retired = now
			}
			rk.until = retired.Add(r.grace)
		}
		out = append(out, rk)
	}
	return out
}

// check reports a key list a server cannot use (see CheckKeys).
func (r *keyRing) check() error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	keys := make([]SigningKey, len(r.keys))
	for i, k := range r.keys {
		keys[i] = k.key
	}
	if err := checkKeys(keys, func(i int) string { return fmt.Sprintf("Config.Keys[%d]", i) }); err != nil {
		return fmt.Errorf("keystile: %w", err)
	}
	return nil
}

// signer returns the key that signs now; the zero SigningKey, which refuses
// to sign, if the ring is empty.
func (r *keyRing) signer() SigningKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.keys) == 0 {
		return SigningKey{}
	}
	return r.keys[0].key
}

// list returns the keys that verify now, the signer first.
func (r *keyRing) list() []SigningKey {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]SigningKey, 0, len(r.keys))
	for _, k := range r.keys {
		if k.live(now) {
			out = append(out, k.key)
		}
	}
	return out
}

// lookup returns the key named kid if it verifies now.
func (r *keyRing) lookup(kid string) (SigningKey, bool) {
	return r.find(func(k SigningKey) bool { return k.kid == kid })
}

// lookupHeader is lookup for the key whose access-token header (atHeader)
// is head.
func (r *keyRing) lookupHeader(head string) (SigningKey, bool) {
	return r.find(func(k SigningKey) bool { return k.atHeader == head })
}

// find returns the first key that verifies now and is the one.
func (r *keyRing) find(one func(SigningKey) bool) (SigningKey, bool) {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range r.keys {
		if one(k.key) && k.live(now) {
			return k.key, true
		}
	}
	return SigningKey{}, false
}

// rotate makes next the signer and retires the current signer at at.
func (r *keyRing) rotate(next SigningKey, at time.Time) error {
	if next.method == nil {
		return errors.New("keystile: RotateKey: the key is not initialised; build it with NewSigningKey")
	}
	if !next.retired.IsZero() {
		return errors.New("keystile: RotateKey: a retired key cannot sign")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(r.now())
	for _, k := range r.keys {
		// A kid names one key: reusing one would let tokens of the old key
		// be checked against the new one, or the reverse.
		if k.key.kid == next.kid {
			return fmt.Errorf("keystile: RotateKey: key id %q is already in the key ring", next.kid)
		}
	}
	keys := make([]ringKey, 0, len(r.keys)+1)
	keys = append(keys, ringKey{key: next})
	if len(r.keys) > 0 {
		old := r.keys[0]
		old.until = at.Add(r.grace)
		keys = append(keys, old)
		keys = append(keys, r.keys[1:]...)
	}
	r.keys = keys
	return nil
}

// set replaces the ring with keys (see Server.SetKeys).
func (r *keyRing) set(keys []SigningKey) error {
	if err := CheckKeys(keys); err != nil {
		return fmt.Errorf("keystile: SetKeys: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var current string
	if len(r.keys) > 0 {
		current = r.keys[0].key.kid
	}
	r.keys = r.ringKeys(keys, current)
	r.pruneLocked(r.now())
	return nil
}

// pruneLocked drops the keys that no longer verify. r.mu must be held for
// writing.
func (r *keyRing) pruneLocked(now time.Time) {
	// The signer has no expiry, so it always stays.
	r.keys = slices.DeleteFunc(r.keys, func(k ringKey) bool { return !k.live(now) })
}

// RotateKey makes next the key that signs access tokens from now on. The
// key that signed until now is retired: it keeps verifying, in the
// in-process Verifier and in the JWKS (RFC 7517 §5), until the tokens it
// signed have expired (AccessTokenTTL plus DefaultLeeway after now), and is
// then dropped. Keys given in Config.Keys after the first keep verifying.
//
// A key id already in the ring is refused, and so is an uninitialised key;
// the ring is then unchanged. RotateKey is safe to call while the server
// runs: the next token, verification and JWKS request see the new key.
//
// Verifiers in other processes learn the new key from the JWKS when they
// meet its kid, but they limit how often they refetch (Keystile's Verifier:
// once per JWKSRefreshInterval, 30 s by default), so for that long they may
// refuse the new key's tokens.
func (s *Server) RotateKey(next SigningKey) error {
	return s.keys.rotate(next, s.now())
}

// SetKeys replaces the server's keys, with the meaning Config.Keys gives
// them: keys[0] signs from now on and must not be retired; a retired key
// (SigningKey.Retire) verifies until its retirement + AccessTokenTTL +
// DefaultLeeway and is then dropped (at once if that is past); any other
// key verifies with no expiry. It is how a running server reloads its key
// file (keyfile.Load), and it leaves the server as a restart with those keys
// would:
//
//   - Reloading the same keys changes nothing.
//   - A key that is not among keys stops verifying at once: removing a key
//     from the file is how an operator withdraws a leaked key. Keep the old
//     key, marked retired, to rotate without breaking tokens (keyfile.Rotate
//     does so).
//   - The one exception favours tokens already issued: if the key this
//     server signs with is listed as retired earlier than now, it counts as
//     retired now, since it signed until now.
//
// A list CheckKeys refuses returns an error and leaves the keys unchanged.
func (s *Server) SetKeys(keys []SigningKey) error {
	return s.keys.set(keys)
}

// signer returns the key that signs now. Read it once per token: a
// rotation may land between two calls.
func (s *Server) signer() SigningKey { return s.keys.signer() }
