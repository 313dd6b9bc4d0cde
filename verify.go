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
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every error Verify returns: whatever went
// wrong, the token must be refused.
var ErrInvalidToken = errors.New("keystile: invalid access token")

// errRevocationUnavailable marks a token refused only because the deny-list
// could not be read: /revoke and /introspect answer it with 503 rather than
// treating the token as unknown (SECURITY.md §12).
var errRevocationUnavailable = errors.New("revocation list unavailable")

// Verification defaults and bounds.
const (
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat when
	// VerifierConfig.Leeway is zero: enough for servers kept in sync by NTP,
	// small next to a 15-minute token (RFC 7519 §4.1.4 "some small leeway").
	DefaultLeeway = 30 * time.Second
	// DefaultJWKSRefreshInterval is the least time between two JWKS fetches
	// when VerifierConfig.JWKSRefreshInterval is zero. A token with an
	// unknown kid triggers a fetch, and anyone can forge such tokens, so the
	// rate of fetches must not depend on the rate of requests.
	DefaultJWKSRefreshInterval = 30 * time.Second
	// DefaultJWKSMaxAge is how long fetched keys are used before they are
	// fetched again when VerifierConfig.JWKSMaxAge is zero; it matches the
	// Cache-Control max-age of Keystile's JWKS, so a removed key stops
	// verifying within about five minutes.
	DefaultJWKSMaxAge = 5 * time.Minute

	// maxTokenBytes caps a token before it is parsed (RFC 8725 §3.1 warns
	// about resource use). Keystile's tokens are well under 2 KiB even with
	// an RS256 signature and a few custom claims.
	maxTokenBytes = 8 << 10
	// maxJWKSBytes caps a JWKS response body.
	maxJWKSBytes = 1 << 20
	// jwksFetchTimeout bounds one JWKS fetch, whatever the HTTP client.
	jwksFetchTimeout = 10 * time.Second
)

// VerifierConfig configures a Verifier. Exactly one source of keys must be
// set: Keys, JWKSURL or HS256Secret.
type VerifierConfig struct {
	// Issuer is the expected iss claim. Required.
	Issuer string
	// Audience is the expected aud claim; default Issuer, which is also
	// Keystile's default audience.
	Audience string
	// Keys are in-process keys, as given to Config.Keys: each verifies the
	// tokens whose kid is its KeyID, with its own algorithm only.
	Keys []SigningKey
	// JWKSURL is the https URL (http only on loopback) of the issuer's JWKS,
	// for a resource server in another process. Keys are fetched on first
	// use, cached, refreshed after JWKSMaxAge and when a token names an
	// unknown kid, but never more often than JWKSRefreshInterval. Only
	// RS256 (2048 to 8192 bits), ES256 (P-256) and EdDSA (Ed25519) keys with
	// a kid are used; symmetric keys in a JWKS are ignored.
	JWKSURL string
	// HS256Secret is the shared secret of an HS256 issuer (at least 32
	// bytes).
	HS256Secret []byte
	// Leeway is the clock skew allowed on exp, nbf and iat; default
	// DefaultLeeway (30 s). It must not be negative.
	Leeway time.Duration
	// HTTPClient fetches JWKSURL; default a client with a 10-second timeout.
	// Each fetch is also bounded to 10 seconds and 1 MiB.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time

	// JWKSRefreshInterval is the least time between two JWKS fetches;
	// default DefaultJWKSRefreshInterval.
	JWKSRefreshInterval time.Duration
	// JWKSMaxAge is how long fetched keys are used before being fetched
	// again; default DefaultJWKSMaxAge.
	JWKSMaxAge time.Duration
}

// Verifier checks Keystile access tokens (RFC 9068 §4). It is safe for
// concurrent use.
type Verifier struct {
	issuer   string
	audience string
	now      func() time.Time
	parser   *jwt.Parser
	// Exactly one source of keys is set: keys (the configured keys), ring
	// (a Server's key ring) or jwks.
	keys map[string]verificationKey
	ring *keyRing
	jwks *jwksCache

	revoked func(ctx context.Context, jti string) (bool, error)
}

// verificationKey is one key a Verifier trusts, bound to one algorithm.
type verificationKey struct {
	alg string
	key any // []byte for HS256, else the public key
}

// NewVerifier validates cfg and returns a Verifier. The error names the bad
// field.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	return newVerifier(cfg, nil, nil)
}

// newVerifier is NewVerifier for a Server's own verifier, which New builds
// with two sources a caller cannot provide. ring is the Server's key ring,
// read on every Verify so that a key rotation is seen at once; it counts as
// the source of keys, like cfg.Keys. revoked, when set (the store's
// deny-list), is asked about every token that verifies, so that a token
// revoked at /revoke is refused at once in the same process; an error
// refuses the token.
func newVerifier(cfg VerifierConfig, ring *keyRing, revoked func(ctx context.Context, jti string) (bool, error)) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("keystile: VerifierConfig.Issuer is required")
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("keystile: VerifierConfig.Leeway must not be negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sources := 0
	for _, set := range []bool{len(cfg.Keys) > 0, cfg.JWKSURL != "", cfg.HS256Secret != nil, ring != nil} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, errors.New("keystile: VerifierConfig needs exactly one of Keys, JWKSURL and HS256Secret")
	}

	v := &Verifier{issuer: cfg.Issuer, audience: cfg.Audience, now: cfg.Now, revoked: revoked}
	// methods is a first, coarse allow-list: the algorithms of the trusted
	// keys. The keyfunc then holds each token to the one algorithm of the
	// key its kid names.
	var methods []string
	switch {
	case cfg.JWKSURL != "":
		c, err := newJWKSCache(cfg)
		if err != nil {
			return nil, err
		}
		v.jwks = c
		// A JWKS only ever yields asymmetric keys (see jwkVerificationKey).
		methods = []string{AlgRS256, AlgES256, AlgEdDSA}
	case ring != nil:
		if err := ring.check(); err != nil {
			return nil, err
		}
		v.ring = ring
		// A rotation may change the algorithm (say HS256 to RS256), so the
		// coarse list names every algorithm a ring key can have; keyFor
		// still holds each token to the algorithm of its own key.
		methods = []string{AlgHS256, AlgRS256, AlgES256, AlgEdDSA}
	default:
		keys := cfg.Keys
		if cfg.HS256Secret != nil {
			k, err := newHS256Key(cfg.HS256Secret)
			if err != nil {
				return nil, fmt.Errorf("keystile: VerifierConfig.HS256Secret: %w", err)
			}
			keys = []SigningKey{k}
		}
		// A retired key still verifies: retirement only stops signing.
		if err := checkKeys(unretired(keys), func(i int) string { return fmt.Sprintf("VerifierConfig.Keys[%d]", i) }); err != nil {
			return nil, fmt.Errorf("keystile: %w", err)
		}
		v.keys = make(map[string]verificationKey, len(keys))
		for _, k := range keys {
			v.keys[k.kid] = verificationKey{alg: k.alg, key: k.verify}
		}
		methods = signingAlgs(keys)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		// Strict base64 makes a token's text canonical: a signature with
		// altered padding bits is a different string and must not verify.
		jwt.WithStrictDecoding(),
		// Numbers stay exact (json.Number), so RequireClaim never compares
		// rounded values.
		jwt.WithJSONNumber(),
	)
	return v, nil
}

// Verify checks an access token and returns its claims. It checks the length,
// the header (typ "at+jwt" per RFC 9068 §4; a kid naming a trusted key; the
// alg of that key and no other; no crit, jku, jwk, x5u or x5c), the signature,
// and iss, aud, exp (required), nbf and iat with the configured leeway. Any
// failure returns an error wrapping ErrInvalidToken; the error text is for
// logs, not for clients. Numbers in the claims are json.Number values.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if len(token) > maxTokenBytes {
		return nil, fmt.Errorf("%w: token is %d bytes, the limit is %d", ErrInvalidToken, len(token), maxTokenBytes)
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return v.keyFor(ctx, t)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// RFC 9068 §2.2: sub is REQUIRED; a handler reading Claims.Subject must
	// never see an empty one.
	if sub, _ := claims["sub"].(string); sub == "" {
		return nil, fmt.Errorf("%w: no sub claim", ErrInvalidToken)
	}
	if v.revoked != nil {
		jti, _ := claims["jti"].(string)
		revoked, err := v.revoked(ctx, jti)
		if err != nil {
			return nil, fmt.Errorf("%w: %w: %w", ErrInvalidToken, errRevocationUnavailable, err)
		}
		if revoked {
			return nil, fmt.Errorf("%w: token was revoked", ErrInvalidToken)
		}
	}
	return Claims(claims), nil
}

// keyFor checks the header of a parsed, not yet verified token and returns
// the key that must have signed it. The key only ever comes from the
// configuration or the configured JWKS, never from the token (RFC 8725 §3.10).
func (v *Verifier) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	typ, _ := t.Header["typ"].(string)
	if !isAccessTokenType(typ) {
		return nil, errors.New(`header typ is not "at+jwt"`)
	}
	if err := checkHeaderParams(t.Header); err != nil {
		return nil, err
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errors.New("header has no kid")
	}
	var k verificationKey
	switch {
	case v.jwks != nil:
		var err error
		if k, err = v.jwks.key(ctx, kid); err != nil {
			return nil, err
		}
	case v.ring != nil:
		sk, ok := v.ring.lookup(kid)
		if !ok {
			return nil, errors.New("unknown kid")
		}
		k = verificationKey{alg: sk.alg, key: sk.verify}
	default:
		if k, ok = v.keys[kid]; !ok {
			return nil, errors.New("unknown kid")
		}
	}
	// The allow-list is per key: an RSA key verifies RS256 only and an HMAC
	// secret HS256 only, so a public key can never become an HMAC secret.
	if alg := t.Method.Alg(); alg != k.alg {
		return nil, fmt.Errorf("alg %q does not match the key's %q", alg, k.alg)
	}
	return k.key, nil
}

// checkHeaderParams refuses the JOSE header parameters Keystile never sets,
// in access tokens and ID token hints alike. crit names extensions no
// verifier here implements (RFC 7515 §4.1.11); jku, jwk, x5u and x5c offer a
// key that must never be trusted (RFC 8725 §3.10), and no honest token
// carries them.
func checkHeaderParams(header map[string]any) error {
	for _, name := range []string{"crit", "jku", "jwk", "x5u", "x5c"} {
		if _, ok := header[name]; ok {
			return fmt.Errorf("header parameter %q is not accepted", name)
		}
	}
	return nil
}

// isAccessTokenType reports whether a typ header names an RFC 9068 access
// token. Media types are case-insensitive and the "application/" prefix may
// be left out (RFC 7515 §4.1.9).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, accessTokenType) || strings.EqualFold(typ, "application/"+accessTokenType)
}

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

// Middleware authenticates requests with a bearer access token taken from
// the Authorization header only (RFC 6750 §2.1; never the query or the body,
// which end up in logs and caches). A request without one gets 401 with a
// bare Bearer challenge (RFC 6750 §3.1); a bad token gets 401 with
// error="invalid_token" and a generic description. On success the claims are
// available to next through ClaimsFromContext.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values("Authorization")
		if len(values) > 1 {
			writeBearerError(w, http.StatusBadRequest, codeInvalidRequest, "send exactly one Authorization header", "")
			return
		}
		token, ok := bearerToken(values)
		if !ok {
			writeBearerChallenge(w)
			return
		}
		claims, err := v.Verify(r.Context(), token)
		if err != nil {
			writeBearerError(w, http.StatusUnauthorized, codeInvalidToken, "the access token is invalid or expired", "")
			return
		}
		next.ServeHTTP(w, r.WithContext(contextWithClaims(r.Context(), claims)))
	})
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header.
// The scheme is case-insensitive (RFC 9110 §11.1). ok is false when there is
// no bearer credential at all; an empty token is returned as "" with ok true
// so that it is refused as an invalid token.
func bearerToken(values []string) (token string, ok bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// bearerRealm is the realm of every Bearer challenge (RFC 6750 §3).
const bearerRealm = `Bearer realm="keystile"`

// writeBearerChallenge answers a request that sent no bearer token: 401 and a
// challenge without an error code (RFC 6750 §3.1).
func writeBearerChallenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", bearerRealm)
	writeJSON(w, http.StatusUnauthorized, bearerJSON, map[string]string{
		"error":             codeNoCredentials,
		"error_description": "a bearer access token is required",
	})
}

// writeBearerError answers with an RFC 6750 §3.1 error. description and
// scope are fixed strings or validated scope tokens: neither may hold a
// double quote or a backslash, and none carries library error text.
func writeBearerError(w http.ResponseWriter, status int, code, description, scope string) {
	challenge := bearerRealm + `, error="` + code + `", error_description="` + description + `"`
	if scope != "" {
		challenge += `, scope="` + scope + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeJSON(w, status, bearerJSON, map[string]string{"error": code, "error_description": description})
}
