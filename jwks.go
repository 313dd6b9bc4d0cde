package keystile

import (
	"net/http"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// jwk returns the public JWK of an asymmetric key for the JWKS (RFC 7517
// §4): only public members, with use "sig", alg and kid.
func (k SigningKey) jwk() (jose.JSONWebKey, bool) {
	if k.public == nil {
		return jose.JSONWebKey{}, false
	}
	return jose.JSONWebKey{Key: k.public, KeyID: k.kid, Algorithm: k.alg, Use: "sig"}, true
}

// publicJWKS is the JWK set of the public keys among keys (RFC 7517 §5).
// HS256 keys are secrets and never appear in it.
func publicJWKS(keys []SigningKey) jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		if j, ok := k.jwk(); ok {
			set.Keys = append(set.Keys, j)
		}
	}
	return set
}

// signingAlgs lists the distinct algorithms of keys in their order, for the
// metadata document. HS256 is included when configured: it is true that the
// server signs with it, even though only holders of the secret can verify.
func signingAlgs(keys []SigningKey) []string {
	var algs []string
	for _, k := range keys {
		if k.alg != "" && !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	return algs
}

// jwksMaxAge is how long clients may cache the JWKS. Short enough that a key
// added for rotation reaches them well before it signs anything, if the
// operator publishes it a few minutes ahead.
const jwksMaxAge = "public, max-age=300"

// handleJWKS serves GET /.well-known/jwks.json, the server's public keys
// (RFC 7517 §5; RFC 8414 §2 jwks_uri).
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jwksJSON, publicJWKS(s.publishedKeys()))
}
