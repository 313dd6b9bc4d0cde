package keystile

import (
	"net/http"
	"slices"
)

// metadata is the RFC 8414 authorization server metadata document. The
// OpenID Connect discovery document embeds it, so the two can never disagree
// about the issuer or an endpoint.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	UserInfoEndpoint                  string   `json:"userinfo_endpoint"`
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
// from the configured issuer, never from the request (docs/security.md §8).
func (s *Server) metadataDocument() metadata {
	var scopes []string
	for _, c := range s.clients.Load().byID {
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
		UserInfoEndpoint:                  s.endpoint("/userinfo"),
		EndSessionEndpoint:                s.endpoint("/logout"),
		ScopesSupported:                   scopes,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantDeviceCode},
		DeviceAuthorizationEndpoint:       s.endpoint("/device_authorization"),
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "none"},
		RevocationAuthMethodsSupported:    []string{"client_secret_basic", "client_secret_post", "none"},
		IntrospectionAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		AuthorizationResponseISSSupported: true,
		AccessTokenSigningAlgs:            signingAlgs(s.keys.list()),
	}
}

// handleMetadata serves /.well-known/oauth-authorization-server (RFC 8414 §3).
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, metadataJSON, s.metadataDocument())
}

// openIDConfiguration is the OpenID Provider metadata (OIDC Discovery 1.0
// §3): the RFC 8414 document plus the members OpenID Connect adds.
type openIDConfiguration struct {
	metadata
	SubjectTypesSupported         []string `json:"subject_types_supported"`
	IDTokenSigningAlgs            []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported               []string `json:"claims_supported"`
	ClaimsParameterSupported      bool     `json:"claims_parameter_supported"`
	RequestParameterSupported     bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported  bool     `json:"request_uri_parameter_supported"`
	RequireRequestURIRegistration bool     `json:"require_request_uri_registration"`
}

// openIDConfigurationDocument builds the OpenID Provider metadata from the
// same values as metadataDocument. scopes_supported always lists openid.
// id_token_signing_alg_values_supported lists the algorithms Keystile
// really signs ID tokens with (RS256 for the binary's default key); a
// deployment whose keys are all ES256 or EdDSA does not list RS256, which
// Discovery §3 asks for, because no ID token of it could be RS256.
func (s *Server) openIDConfigurationDocument() openIDConfiguration {
	md := s.metadataDocument()
	if !slices.Contains(md.ScopesSupported, ScopeOpenID) {
		md.ScopesSupported = append([]string{ScopeOpenID}, md.ScopesSupported...)
	}
	return openIDConfiguration{
		metadata:              md,
		SubjectTypesSupported: []string{"public"},
		IDTokenSigningAlgs:    s.idTokenAlgs(),
		ClaimsSupported:       supportedClaims(),
	}
}

// handleOpenIDConfiguration serves /.well-known/openid-configuration (OIDC
// Discovery 1.0 §4).
func (s *Server) handleOpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, metadataJSON, s.openIDConfigurationDocument())
}
