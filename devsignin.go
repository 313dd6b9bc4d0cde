package keystile

import (
	"context"
	"net/http"
)

// signInWithoutForm answers an authorization request on a development
// server (keystile dev, which sets Server.signIn through internal/hook):
// the identity the developer chose is signed in with no form and no
// password. No library user can reach this: signIn is unexported and only
// the module's own command sets it.
func (s *Server) signInWithoutForm(w http.ResponseWriter, r *http.Request, ar *authRequest) {
	id, err := s.devIdentity(r.Context())
	if err != nil {
		s.redirectError(w, r, ar.redirectURI, ar.state, serverError(err))
		return
	}
	s.finishAuthorization(w, r, ar.codeGrant(id, s.now(), nil))
}

// devIdentity is the development server's chosen identity.
func (s *Server) devIdentity(ctx context.Context) (Identity, error) {
	sub, claims, err := s.signIn(ctx)
	return Identity{Subject: sub, Claims: claims}, err
}
