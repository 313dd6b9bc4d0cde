package keystile

// clientCredentials serves grant_type=client_credentials (RFC 6749 §4.4) for
// an authenticated confidential client allowed this grant (a service
// account). The token's subject is the client itself and its custom claims
// are the client's configured claims. No user signed in, so no ID token; and
// no refresh token: the client can always ask again (RFC 6749 §4.4.3). The
// token is for one of the client's resources, as for the other grants.
func (s *Server) clientCredentials(client *Client, p params) (grant, error) {
	if client.Public { // ValidateClient refuses this registration; keep the rule local too
		return grant{}, oauthError(codeUnauthorizedClient, "a public client cannot use client credentials")
	}
	scope := client.Scopes // RFC 6749 §3.3: the pre-defined default
	if raw, ok := p["scope"]; ok {
		requested, e := client.parseScope(raw)
		if e != nil {
			return grant{}, e
		}
		scope = requested
	}
	// A service account may ask for any of its resources (RFC 8707 §2.2).
	resource, e := s.tokenResource(client, client.Resources, p)
	if e != nil {
		return grant{}, e
	}
	return grant{client: client, subject: client.ID, claims: client.Claims, scope: scope, resource: resource}, nil
}
