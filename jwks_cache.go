package keystile

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// jwksCache holds the keys fetched from a JWKS URL.
type jwksCache struct {
	url         string
	client      *http.Client
	now         func() time.Time
	minInterval time.Duration
	maxAge      time.Duration

	mu        sync.Mutex
	keys      map[string]verificationKey
	fetchedAt time.Time     // last successful fetch
	attempted time.Time     // last fetch started
	inflight  chan struct{} // closed when the running fetch ends; nil if none
	lastErr   error         // of the last fetch, for the error of a lookup
}

func newJWKSCache(cfg VerifierConfig) (*jwksCache, error) {
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("keystile: VerifierConfig.JWKSURL %q is not an absolute URL", cfg.JWKSURL)
	}
	// Keys fetched over plain http could be swapped by anyone on the path.
	if u.Scheme != "https" && (u.Scheme != "http" || !isLoopbackHost(u.Hostname())) {
		return nil, fmt.Errorf("keystile: VerifierConfig.JWKSURL %q must be https (http only on loopback)", cfg.JWKSURL)
	}
	if cfg.JWKSRefreshInterval < 0 || cfg.JWKSMaxAge < 0 {
		return nil, errors.New("keystile: VerifierConfig JWKS intervals must not be negative")
	}
	c := &jwksCache{
		url:         cfg.JWKSURL,
		client:      cfg.HTTPClient,
		now:         cfg.Now,
		minInterval: cfg.JWKSRefreshInterval,
		maxAge:      cfg.JWKSMaxAge,
	}
	if c.client == nil {
		c.client = &http.Client{Timeout: jwksFetchTimeout}
	}
	if c.minInterval == 0 {
		c.minInterval = DefaultJWKSRefreshInterval
	}
	if c.maxAge == 0 {
		c.maxAge = DefaultJWKSMaxAge
	}
	return c, nil
}

// key returns the key named kid, fetching the JWKS first when the cache is
// empty, older than maxAge, or lacks kid — but never twice within
// minInterval, whatever the number of tokens with unknown kids. Concurrent
// callers share one fetch. When a fetch fails, the keys already known stay
// in use.
func (c *jwksCache) key(ctx context.Context, kid string) (verificationKey, error) {
	c.mu.Lock()
	now := c.now()
	k, ok := c.keys[kid]
	fresh := !c.fetchedAt.IsZero() && now.Sub(c.fetchedAt) < c.maxAge
	if ok && fresh {
		c.mu.Unlock()
		return k, nil
	}
	done := c.inflight
	if done == nil {
		if !c.attempted.IsZero() && now.Sub(c.attempted) < c.minInterval {
			err := c.lastErr
			c.mu.Unlock()
			return lookupResult(k, ok, err)
		}
		c.attempted = now
		done = make(chan struct{})
		c.inflight = done
		// The fetch outlives this caller's context on purpose: a cancelled
		// request must not spoil the fetch that other requests wait for and
		// then hold off the next one for minInterval.
		go c.refresh(context.WithoutCancel(ctx), done)
	}
	c.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
		return verificationKey{}, fmt.Errorf("waiting for the JWKS: %w", ctx.Err())
	}
	c.mu.Lock()
	k, ok = c.keys[kid]
	err := c.lastErr
	c.mu.Unlock()
	return lookupResult(k, ok, err)
}

func lookupResult(k verificationKey, ok bool, fetchErr error) (verificationKey, error) {
	if ok {
		return k, nil
	}
	if fetchErr != nil {
		return verificationKey{}, fmt.Errorf("unknown kid (the last JWKS fetch failed: %w)", fetchErr)
	}
	return verificationKey{}, errors.New("unknown kid")
}

func (c *jwksCache) refresh(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	keys, err := c.fetch(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastErr = err
	if err == nil {
		c.keys = keys
		c.fetchedAt = c.now()
	}
	c.inflight = nil
	close(done)
}

// fetch downloads and parses the JWKS. A key that cannot be used (unknown
// kty, symmetric, weak, no kid, use other than sig, alg not matching the key
// type) is skipped rather than failing the whole set, so one odd key cannot
// take every other key down with it.
func (c *jwksCache) fetch(ctx context.Context) (map[string]verificationKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, fmt.Errorf("building the JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("the JWKS is larger than %d bytes", maxJWKSBytes)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decoding the JWKS: %w", err)
	}
	keys := make(map[string]verificationKey, len(set.Keys))
	for _, raw := range set.Keys {
		var j jose.JSONWebKey
		if err := j.UnmarshalJSON(raw); err != nil {
			continue
		}
		k, ok := jwkVerificationKey(j)
		if !ok || j.KeyID == "" {
			continue
		}
		if _, dup := keys[j.KeyID]; dup {
			// Two keys under one kid: trusting either would be a guess.
			keys[j.KeyID] = verificationKey{}
			continue
		}
		keys[j.KeyID] = k
	}
	for kid, k := range keys {
		if k.key == nil {
			delete(keys, kid)
		}
	}
	return keys, nil
}

// jwkVerificationKey maps a JWK to the one algorithm its key type allows. The
// JWK's alg, when present, must name that algorithm.
func jwkVerificationKey(j jose.JSONWebKey) (verificationKey, bool) {
	if j.Use != "" && j.Use != "sig" {
		return verificationKey{}, false
	}
	var k verificationKey
	switch pub := j.Key.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return verificationKey{}, false
		}
		k = verificationKey{alg: AlgRS256, key: pub}
	case *rsa.PrivateKey:
		return jwkVerificationKey(jose.JSONWebKey{Key: &pub.PublicKey, KeyID: j.KeyID, Algorithm: j.Algorithm, Use: j.Use})
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return verificationKey{}, false
		}
		k = verificationKey{alg: AlgES256, key: pub}
	case *ecdsa.PrivateKey:
		return jwkVerificationKey(jose.JSONWebKey{Key: &pub.PublicKey, KeyID: j.KeyID, Algorithm: j.Algorithm, Use: j.Use})
	case ed25519.PublicKey:
		k = verificationKey{alg: AlgEdDSA, key: pub}
	case ed25519.PrivateKey:
		return jwkVerificationKey(jose.JSONWebKey{Key: pub.Public(), KeyID: j.KeyID, Algorithm: j.Algorithm, Use: j.Use})
	default:
		// Symmetric keys ([]byte) and anything else: a published secret is
		// no secret, and HS256 is only verified with a configured secret.
		return verificationKey{}, false
	}
	if j.Algorithm != "" && j.Algorithm != k.alg {
		return verificationKey{}, false
	}
	return k, true
}
