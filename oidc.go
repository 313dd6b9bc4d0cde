package keystile

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// ScopeOpenID is the scope that makes a request an OpenID Connect
// authentication request (OIDC Core §3.1.2.1): with it in the granted scope,
// the token response carries an id_token and /userinfo answers.
const ScopeOpenID = "openid"

// idTokenType is the typ header of ID tokens. OIDC Core does not name one;
// "JWT" is what RFC 7519 §5.1 suggests, and it is never "at+jwt", so that an
// ID token is refused wherever an access token is expected (RFC 9068 §4,
// RFC 8725 §3.11).
const idTokenType = "JWT"

// scopeClaims are the standard claims each scope value releases (OIDC Core
// §5.4), to the ID token and to /userinfo.
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
}

// claimKind is the JSON type OIDC Core §5.1 gives a standard claim: 's'
// string, 'b' boolean, 'n' number, 'o' object. A user claim of another type
// is left out rather than handed to relying parties that would choke on it.
var claimKind = map[string]byte{
	"email_verified": 'b', "phone_number_verified": 'b',
	"updated_at": 'n',
	"address":    'o',
}

// standardClaims returns the standard claims of the user's claims that the
// granted scope releases (OIDC Core §5.4), each with the JSON type §5.1
// gives it. Custom claims (a role, groups) are never released here: they
// travel in the access token, which only the client and resource servers
// see.
func standardClaims(scope []string, user map[string]any) map[string]any {
	out := map[string]any{}
	for _, sc := range scope {
		for _, name := range scopeClaims[sc] {
			v, ok := user[name]
			if ok && hasClaimKind(name, v) {
				out[name] = v
			}
		}
	}
	return out
}

func hasClaimKind(name string, v any) bool {
	switch claimKind[name] {
	case 'b':
		_, ok := v.(bool)
		return ok
	case 'n':
		n, ok := numberText(v)
		if !ok {
			return false
		}
		_, ok = canonicalNumber(n)
		return ok
	case 'o':
		_, ok := v.(map[string]any)
		return ok
	default:
		_, ok := v.(string)
		return ok
	}
}

// supportedClaims lists every claim Keystile may put into an ID token or a
// /userinfo answer, for claims_supported (OIDC Discovery §3).
func supportedClaims() []string {
	claims := []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"}
	for _, names := range scopeClaims {
		claims = append(claims, names...)
	}
	slices.Sort(claims[8:])
	return claims
}

// checkIDTokenKey enforces the rule of Config.IDTokenKey: ID tokens are
// verified by relying parties through the JWKS, so they need an asymmetric
// key; a deployment whose access tokens are HS256 must name one as soon as a
// client may ask for openid.
func checkIDTokenKey(cfg Config) error {
	k := cfg.IDTokenKey
	if k.method != nil {
		if k.public == nil {
			return fmt.Errorf("keystile: Config.IDTokenKey is %s; it must be an RS256, ES256 or EdDSA key, since relying parties verify ID tokens through the JWKS", k.alg)
		}
		return nil
	}
	if len(cfg.Keys) == 0 || cfg.Keys[0].method == nil || cfg.Keys[0].public != nil {
		return nil // New reports missing keys; an asymmetric signer signs ID tokens too
	}
	for _, c := range cfg.Clients {
		if slices.Contains(c.Scopes, ScopeOpenID) {
			return fmt.Errorf("keystile: Config.IDTokenKey is required: Config.Keys[0] is HS256, which relying parties cannot verify, and client %q may request the openid scope; set Config.IDTokenKey to an RS256, ES256 or EdDSA key", c.ID)
		}
	}
	return nil
}

// errNoIDTokenKey is the cause logged when an openid grant finds no
// asymmetric key: the ring was rotated to HS256 without Config.IDTokenKey.
var errNoIDTokenKey = errors.New("no asymmetric key to sign the ID token: set Config.IDTokenKey")

// idTokenSigner returns the key that signs ID tokens now: Config.IDTokenKey
// when set, otherwise the key that signs access tokens, if it is asymmetric.
func (s *Server) idTokenSigner() (SigningKey, error) {
	if s.cfg.IDTokenKey.method != nil {
		return s.cfg.IDTokenKey, nil
	}
	k := s.signer()
	if k.method == nil || k.public == nil {
		return SigningKey{}, errNoIDTokenKey
	}
	return k, nil
}

// publishedKeys are the keys whose public halves the JWKS publishes: the
// key ring (SigningKeys) and Config.IDTokenKey. HS256 keys are filtered out
// by publicJWKS.
func (s *Server) publishedKeys() []SigningKey {
	keys := s.keys.list()
	if k := s.cfg.IDTokenKey; k.method != nil && !slices.ContainsFunc(keys, func(x SigningKey) bool { return x.kid == k.kid }) {
		keys = append(keys, k)
	}
	return keys
}

// idTokenAlgs lists the algorithms ID tokens may be signed with, for
// id_token_signing_alg_values_supported (OIDC Discovery §3): the ID token
// key's, or those of the asymmetric keys of the ring, the signer first.
func (s *Server) idTokenAlgs() []string {
	if k := s.cfg.IDTokenKey; k.method != nil {
		return []string{k.alg}
	}
	algs := []string{}
	for _, k := range s.keys.list() {
		if k.public != nil && !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	return algs
}

// tokenHash is the at_hash of token for an ID token signed with alg (OIDC
// Core §3.1.3.6): the base64url left half of its hash, with the hash of the
// signing alg: SHA-256 for RS256 and ES256, and SHA-512 for EdDSA with
// Ed25519, as the OIDC Core errata and go-oidc do.
func tokenHash(alg, token string) (string, error) {
	var h hash.Hash
	switch alg {
	case AlgRS256, AlgES256:
		h = sha256.New()
	case AlgEdDSA:
		h = sha512.New()
	default:
		return "", fmt.Errorf("no at_hash for ID tokens signed with %s", alg)
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}

// idTokenHintParser checks what verifyIDTokenHint needs and no more: the
// signature with an asymmetric algorithm, in canonical base64. The time
// claims are not checked, since an expired hint is still a good hint
// (OIDC RP-Initiated Logout 1.0 §2); iss and aud are checked by hand.
var idTokenHintParser = jwt.NewParser(
	jwt.WithValidMethods([]string{AlgRS256, AlgES256, AlgEdDSA}),
	jwt.WithoutClaimsValidation(),
	jwt.WithStrictDecoding(),
	jwt.WithJSONNumber(),
)

var errBadIDTokenHint = errors.New("not an ID token of this server")

// verifyIDTokenHint checks an id_token_hint (OIDC RP-Initiated Logout 1.0
// §2) and returns the client it was issued to and its subject. The token
// must be one of this server's ID tokens: typ "JWT", signed by the ID token
// key or a key of the ring that verifies now, with that key's algorithm,
// iss this issuer and aud one registered client. It may have expired.
func (s *Server) verifyIDTokenHint(hint string) (*Client, string, error) {
	if len(hint) > maxTokenBytes {
		return nil, "", errBadIDTokenHint
	}
	claims := jwt.MapClaims{}
	_, err := idTokenHintParser.ParseWithClaims(hint, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != idTokenType {
			return nil, errors.New("typ is not JWT")
		}
		if err := checkHeaderParams(t.Header); err != nil {
			return nil, err
		}
		kid, _ := t.Header["kid"].(string)
		for _, k := range s.publishedKeys() {
			if k.kid == kid && k.public != nil && kid != "" {
				if t.Method.Alg() != k.alg {
					return nil, errors.New("alg does not match the key")
				}
				return k.verify, nil
			}
		}
		return nil, errors.New("unknown kid")
	})
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", errBadIDTokenHint, err)
	}
	if iss, _ := claims["iss"].(string); iss != s.cfg.Issuer {
		return nil, "", fmt.Errorf("%w: wrong iss", errBadIDTokenHint)
	}
	aud, err := claims.GetAudience()
	if err != nil || len(aud) != 1 {
		return nil, "", fmt.Errorf("%w: aud must name one client", errBadIDTokenHint)
	}
	client, ok := s.client(aud[0])
	if !ok {
		return nil, "", fmt.Errorf("%w: aud is not a registered client", errBadIDTokenHint)
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return nil, "", fmt.Errorf("%w: no sub", errBadIDTokenHint)
	}
	return client, sub, nil
}
