package keystile

import (
	"net/http"
	"slices"
)

// metadata is the RFC 8414 authorization server metadata document.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseISSSupported bool     `json:"authorization_response_iss_parameter_supported"`
	AccessTokenSigningAlgs            []string `json:"access_token_signing_alg_values_supported,omitempty"`
}

// metadataDocument lists every endpoint and supported value. Every URL comes
// from the configured issuer, never from the request (SECURITY.md §8).
func (s *Server) metadataDocument() metadata {
	var scopes []string
	for _, c := range s.clients {
		for _, sc := range c.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	slices.Sort(scopes)
	return metadata{
		Issuer:                            s.cfg.Issuer,
		AuthorizationEndpoint:             s.endpoint("/authorize"),
		TokenEndpoint:                     s.endpoint("/token"),
		JWKSURI:                           s.endpoint("/.well-known/jwks.json"),
		RevocationEndpoint:                s.endpoint("/revoke"),
		IntrospectionEndpoint:             s.endpoint("/introspect"),
		EndSessionEndpoint:                s.endpoint("/logout"),
		ScopesSupported:                   scopes,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "none"},
		RevocationAuthMethodsSupported:    []string{"client_secret_basic", "client_secret_post", "none"},
		IntrospectionAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		AuthorizationResponseISSSupported: true,
		AccessTokenSigningAlgs:            signingAlgs(s.SigningKeys()),
	}
}

// handleMetadata serves /.well-known/oauth-authorization-server (RFC 8414 §3).
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Type", "application/json")
	writeJSONBody(w, s.metadataDocument())
}
