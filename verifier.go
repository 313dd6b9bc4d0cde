package keystile

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every error Verify returns: whatever went
// wrong, the token must be refused.
var ErrInvalidToken = errors.New("keystile: invalid access token")

// errRevocationUnavailable marks a token refused only because the deny-list
// could not be read: /revoke and /introspect answer it with 503 rather than
// treating the token as unknown (docs/security.md §12).
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
	// refusalLogBurst is how many refused tokens Middleware logs at once
	// before it falls back to one line a second.
	refusalLogBurst = 20
)

// VerifierConfig configures a Verifier. Exactly one source of keys must be
// set: Keys, JWKSURL or HS256Secret.
type VerifierConfig struct {
	// Issuer is the expected iss claim. Required.
	Issuer string
	// Audience is the expected aud claim; default Resource, else Issuer,
	// which is also Keystile's default audience.
	Audience string
	// Resource, when set, makes this the verifier of one API (RFC 8707,
	// RFC 9728): tokens must name it in aud, so that a token minted for
	// another resource is refused; its 401 and 403 challenges carry
	// resource_metadata, the URL of the metadata that ProtectedResourceMetadata
	// serves. It is an absolute URI without a fragment; an Audience that
	// differs from it is an error.
	Resource string
	// ScopesSupported are the scopes the resource's metadata lists
	// (RFC 9728 §2 scopes_supported).
	ScopesSupported []string
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

	// Logger receives one line for each token that Middleware refuses,
	// with the reason (wrong audience or issuer, expired, unknown kid, …)
	// and never the token: an expired token at info, any other refusal at
	// warn, where an operator sees a misconfiguration. A flood of refusals
	// writes a bounded number of lines, each counting those held back.
	// Default slog.Default(). The 401 the client gets stays generic.
	Logger *slog.Logger
}

// Verifier checks Keystile access tokens (RFC 9068 §4). It is safe for
// concurrent use.
type Verifier struct {
	issuer    string
	audiences []string // the accepted aud values; one, except for the server's own lookups
	now       func() time.Time
	methods   []string // the algorithms any trusted key has: a first, coarse allow-list
	// validator checks iss, aud, exp, nbf and iat as golang-jwt's parser
	// does; opts are its options but the audience (withAudiences).
	validator *jwt.Validator
	opts      []jwt.ParserOption
	resource  resourceMetadata // RFC 9728; zero without VerifierConfig.Resource
	// Exactly one source of keys is set: keys (the configured keys), ring
	// (a Server's key ring) or jwks.
	keys map[string]verificationKey
	ring *keyRing
	jwks *jwksCache

	revoked func(ctx context.Context, jti string) (bool, error)

	log     *slog.Logger
	logRate *logBudget // bounds the refusal lines a flood of bad tokens writes
}

// verificationKey is one key a Verifier trusts, bound to one algorithm.
type verificationKey struct {
	alg string
	key any // []byte for HS256, else the public key
	// macs are the HMAC states of an HS256 key (SigningKey.macs); nil for
	// the others.
	macs *sync.Pool
	// header is the encoded header of the key's own access tokens
	// (SigningKey.atHeader); "" for a key from a JWKS.
	header string
}

// verificationKeyOf is the verification half of a SigningKey.
func verificationKeyOf(k SigningKey) verificationKey {
	return verificationKey{alg: k.alg, key: k.verify, macs: k.macs, header: k.atHeader}
}

// NewVerifier validates cfg and returns a Verifier. The error names the bad
// field.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	return newVerifier(cfg, nil, nil)
}

// newVerifier is NewVerifier for a Server's own verifier, which New builds
// with two sources a caller cannot provide. ring is the Server's key ring,
// read on every Verify so that a key rotation is seen at once; it counts as
// the source of keys, like cfg.Keys. revoked, when set (the server's
// deny-list, kept in memory or read from the store: revocations.go), is
// asked about every token that verifies, so that a token revoked at /revoke
// is refused at once; an error refuses the token.
func newVerifier(cfg VerifierConfig, ring *keyRing, revoked func(ctx context.Context, jti string) (bool, error)) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("keystile: VerifierConfig.Issuer is required")
	}
	meta, err := newResourceMetadata(&cfg)
	if err != nil {
		return nil, err
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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
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

	v := &Verifier{issuer: cfg.Issuer, now: cfg.Now, revoked: revoked, resource: meta,
		log: cfg.Logger, logRate: newLogBudget(time.Second, refusalLogBurst)}
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
			v.keys[k.kid] = verificationKeyOf(k)
		}
		methods = signingAlgs(keys)
	}
	v.methods = methods
	v.opts = []jwt.ParserOption{
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	}
	return v.withAudiences(cfg.Audience), nil
}

// withAudiences returns a copy of v that accepts a token whose aud names any
// of audiences; it shares v's keys and deny-list.
func (v *Verifier) withAudiences(audiences ...string) *Verifier {
	c := *v
	c.audiences = slices.Clone(audiences)
	c.validator = jwt.NewValidator(append(slices.Clone(v.opts), jwt.WithAudience(audiences...))...)
	return &c
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
	claims, err := v.parse(ctx, token)
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

// parse is golang-jwt's Parser.ParseWithClaims as Verify used it (strict
// base64, json.Number claims, the same checks in the same order, errors
// wrapping the same jwt.Err values), without what it spends besides:
// its split and its re-joined signing input, and a new HMAC per HS256
// token, whose state (the key hashed twice) comes from the key's pool.
func (v *Verifier) parse(ctx context.Context, token string) (jwt.MapClaims, error) {
	head, rest, ok := strings.Cut(token, ".")
	body, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(sig, ".") {
		return nil, fmt.Errorf("%w: token contains an invalid number of segments", jwt.ErrTokenMalformed)
	}
	// Strict base64 makes a token's text canonical: a signature with
	// altered padding bits is a different string and must not verify.
	enc := base64.RawURLEncoding.Strict()
	// A header that is, byte for byte, the one a trusted key puts on its
	// own access tokens decodes to that key's alg and kid, typ at+jwt and
	// nothing else: every header check passes, and that key is the one.
	known, isKnown := v.headerKey(head)
	var header map[string]any
	if !isKnown {
		headerJSON, err := enc.DecodeString(head)
		if err != nil {
			return nil, fmt.Errorf("%w: could not base64 decode header: %w", jwt.ErrTokenMalformed, err)
		}
		if err := json.Unmarshal(headerJSON, &header); err != nil {
			return nil, fmt.Errorf("%w: could not JSON decode header: %w", jwt.ErrTokenMalformed, err)
		}
	}
	claimsJSON, err := enc.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: could not base64 decode claim: %w", jwt.ErrTokenMalformed, err)
	}
	// Numbers stay exact (json.Number), so RequireClaim never compares
	// rounded values. Like golang-jwt, the first JSON value is the claims.
	claims := jwt.MapClaims{}
	dec := json.NewDecoder(bytes.NewReader(claimsJSON))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("%w: could not JSON decode claim: %w", jwt.ErrTokenMalformed, err)
	}
	alg, _ := header["alg"].(string)
	if isKnown {
		alg = known.alg
	}
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		return nil, fmt.Errorf("%w: signing method (alg) is unavailable", jwt.ErrTokenUnverifiable)
	}
	signature, err := enc.DecodeString(sig)
	if err != nil {
		return nil, fmt.Errorf("%w: could not base64 decode signature: %w", jwt.ErrTokenMalformed, err)
	}
	if !slices.Contains(v.methods, alg) {
		return nil, fmt.Errorf("%w: signing method %v is invalid", jwt.ErrTokenSignatureInvalid, alg)
	}
	k := known
	if !isKnown {
		if k, err = v.keyFor(ctx, &jwt.Token{Header: header, Method: method}); err != nil {
			return nil, fmt.Errorf("%w: error while executing keyfunc: %w", jwt.ErrTokenUnverifiable, err)
		}
	}
	if err := k.verify(method, token[:len(head)+1+len(body)], signature); err != nil {
		return nil, fmt.Errorf("%w: %w", jwt.ErrTokenSignatureInvalid, err)
	}
	if err := v.validator.Validate(claims); err != nil {
		return nil, fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err)
	}
	return claims, nil
}

// headerKey returns the trusted key whose own access-token header is head,
// the first segment of a token, exactly; a retired key only while it still
// verifies (keyRing.lookup). Keys from a JWKS have no such header.
func (v *Verifier) headerKey(head string) (verificationKey, bool) {
	switch {
	case head == "":
	case v.ring != nil:
		if sk, ok := v.ring.lookupHeader(head); ok {
			return verificationKeyOf(sk), true
		}
	case v.keys != nil:
		for _, k := range v.keys {
			if k.header != "" && k.header == head {
				return k, true
			}
		}
	}
	return verificationKey{}, false
}

// verify checks sig over signed with k, for method, which keyFor has held
// to k's algorithm. An HS256 key compares, in constant time, against the
// HMAC computed from a pooled state, as jwt.SigningMethodHS256 does from a
// new one.
func (k verificationKey) verify(method jwt.SigningMethod, signed string, sig []byte) error {
	if k.macs == nil || method != jwt.SigningMethodHS256 {
		return method.Verify(signed, sig, k.key)
	}
	m := k.macs.Get().(*pooledMAC)
	defer k.macs.Put(m)
	m.mac.Reset()
	m.mac.Write([]byte(signed))
	if !hmac.Equal(sig, m.mac.Sum(m.sum[:0])) {
		return jwt.ErrSignatureInvalid
	}
	return nil
}

// keyFor checks the header of a parsed, not yet verified token and returns
// the key that must have signed it. The key only ever comes from the
// configuration or the configured JWKS, never from the token (RFC 8725 §3.10).
func (v *Verifier) keyFor(ctx context.Context, t *jwt.Token) (verificationKey, error) {
	typ, _ := t.Header["typ"].(string)
	if !isAccessTokenType(typ) {
		return verificationKey{}, errors.New(`header typ is not "at+jwt"`)
	}
	if err := checkHeaderParams(t.Header); err != nil {
		return verificationKey{}, err
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return verificationKey{}, errors.New("header has no kid")
	}
	var k verificationKey
	switch {
	case v.jwks != nil:
		var err error
		if k, err = v.jwks.key(ctx, kid); err != nil {
			return verificationKey{}, err
		}
	case v.ring != nil:
		sk, ok := v.ring.lookup(kid)
		if !ok {
			return verificationKey{}, errors.New("unknown kid")
		}
		k = verificationKeyOf(sk)
	default:
		if k, ok = v.keys[kid]; !ok {
			return verificationKey{}, errors.New("unknown kid")
		}
	}
	// The allow-list is per key: an RSA key verifies RS256 only and an HMAC
	// secret HS256 only, so a public key can never become an HMAC secret.
	if alg := t.Method.Alg(); alg != k.alg {
		return verificationKey{}, fmt.Errorf("alg %q does not match the key's %q", alg, k.alg)
	}
	return k, nil
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
