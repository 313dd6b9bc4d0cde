package keystile

// clientCredentials serves grant_type=client_credentials (RFC 6749 §4.4) for
// an authenticated confidential client allowed this grant (a service
// account). The token's subject is the client itself and its custom claims
// are the client's configured claims. No refresh token: the client can always
// ask again (RFC 6749 §4.4.3).
func (s *Server) clientCredentials(client *Client, p params) (*tokenResponse, error) {
	if client.Public { // ValidateClient refuses this registration; keep the rule local too
		return nil, oauthError(codeUnauthorizedClient, "a public client cannot use client credentials")
	}
	scope := client.Scopes // RFC 6749 §3.3: the pre-defined default
	if raw, ok := p["scope"]; ok {
		requested, e := client.parseScope(raw)
		if e != nil {
			return nil, e
		}
		scope = requested
	}
	now := s.now()
	return s.issueAccessToken(accessToken{subject: client.ID, clientID: client.ID, scope: scope, claims: client.Claims}, now)
}
