package keystile

// clientCredentials serves grant_type=client_credentials (RFC 6749 §4.4) for
// an authenticated confidential client allowed this grant (a service
// account). The token's subject is the client itself and its custom claims
// are the client's configured claims. No user signed in, so no ID token; and
// no refresh token: the client can always ask again (RFC 6749 §4.4.3).
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
	return grant{client: client, subject: client.ID, claims: client.Claims, scope: scope}, nil
}
