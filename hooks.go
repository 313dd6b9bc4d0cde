package keystile

import (
	"context"
	"fmt"

	"github.com/keystile/keystile/internal/hook"
)

// The module's own tools reach the server through internal/hook, so that
// these entry points are not part of the exported API.
func init() {
	hook.MintAccessToken = func(srv any, clientID, subject string, claims map[string]any) (string, error) {
		return srv.(*Server).mintForTest(clientID, subject, claims)
	}
	hook.SetSignIn = func(srv any, f hook.SignInFunc) { srv.(*Server).signIn = f }
}

// mintForTest signs an access token for subject through the same path as
// every grant (accessTokenClaims and the current signing key), for
// keystiletest.
func (s *Server) mintForTest(clientID, subject string, claims map[string]any) (string, error) {
	c, ok := s.client(clientID)
	if !ok {
		return "", fmt.Errorf("keystile: no client %q", clientID)
	}
	resp, err := s.mint(context.Background(), grant{client: c, subject: subject, claims: claims}, s.now())
	if err != nil {
		return "", err
	}
	return resp.AccessToken, nil
}
