package keystile

// Event is something the server did, reported to Config.OnEvent so that a
// program can count it (the keystile binary turns events into Prometheus
// metrics). It carries no secret, no subject and no client id: only values
// from a small fixed set, fit for metric labels.
type Event struct {
	// Kind says what happened: EventTokenIssued or EventCredentialReused.
	Kind string
	// GrantType is the grant type of a /token request that issued tokens
	// (GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials),
	// or of the credential that was reused (GrantAuthorizationCode for a
	// code, GrantRefreshToken for a refresh token).
	GrantType string
	// Algorithm is the alg of the access token issued (AlgRS256, …).
	Algorithm string
}

// Event kinds.
const (
	// EventTokenIssued: /token answered with tokens.
	EventTokenIssued = "token_issued"
	// EventCredentialReused: a used authorization code or refresh token was
	// presented again, and what was issued from it revoked (RFC 9700
	// §4.14.2): a sign of theft, or of a broken client.
	EventCredentialReused = "credential_reused"
)

// emit hands e to Config.OnEvent, if set. OnEvent runs in the request's
// goroutine, so it must be quick and safe for concurrent use.
func (s *Server) emit(e Event) {
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}
