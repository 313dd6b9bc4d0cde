package keystile

import "net/http"

// handleToken serves POST /token. Every answer is JSON with Cache-Control:
// no-store, errors as RFC 6749 §5.2 describes. The way of a request: the
// form and the client (readClientRequest), the grant function of the grant
// type, which checks the request and fills a grant, and mint, which turns
// the grant into the tokens of the response.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	client, p, err := s.readClientRequest(r, originBound)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	ctx, now := r.Context(), s.now()
	var g grant
	gt := p["grant_type"]
	switch {
	case gt == "":
		err = oauthError(codeInvalidRequest, "grant_type is required")
	case gt != GrantAuthorizationCode && gt != GrantRefreshToken && gt != GrantClientCredentials && gt != GrantDeviceCode:
		err = oauthError(codeUnsupportedGrantType, "the grant type is not supported")
	case !client.allowsGrant(gt):
		err = oauthError(codeUnauthorizedClient, "the client may not use this grant type")
	case gt == GrantAuthorizationCode:
		g, err = s.exchangeCode(ctx, client, p, now)
	case gt == GrantRefreshToken:
		g, err = s.refresh(ctx, client, p, now)
	case gt == GrantClientCredentials:
		g, err = s.clientCredentials(client, p)
	case gt == GrantDeviceCode:
		g, err = s.deviceCode(ctx, client, p)
	}
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	resp, err := s.mint(ctx, g, now)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	s.emit(Event{Kind: EventTokenIssued, GrantType: gt, Algorithm: resp.alg})
	writeJSON(w, http.StatusOK, noStoreJSON, resp)
}
