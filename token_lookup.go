package keystile

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/keystile/keystile/store"
)

// maxTokenLen bounds a token presented to /revoke or /introspect.
const maxTokenLen = 8 << 10

// errStoreUnavailable answers /revoke and /introspect when the store fails:
// 503, never a 200 that would claim a revocation or an answer it cannot
// vouch for (docs/security.md §12).
var errStoreUnavailable = oauthError(codeServerError, "the server could not complete the request").withStatus(http.StatusServiceUnavailable)

// presentedToken is a token sent to /revoke or /introspect, looked up: at
// most one of its fields is set. Neither is set for a token that is not one
// of ours, malformed, too long, unknown or expired.
type presentedToken struct {
	// refresh is the stored refresh token, also one already rotated (the
	// caller decides what a used token means).
	refresh *store.RefreshToken
	// access is the verified claims of an access token that is valid and
	// not revoked.
	access Claims
}

// lookupToken finds what tok is. Refresh tokens are opaque and access tokens
// are JWTs, so a token without a dot can only be a refresh token. The error
// is errStoreUnavailable, with its cause, when the store (or the revocation
// deny-list the verifier consults) fails.
func (s *Server) lookupToken(ctx context.Context, tok string) (presentedToken, error) {
	if len(tok) > maxTokenLen {
		return presentedToken{}, nil
	}
	if !strings.Contains(tok, ".") {
		if len(tok) > maxSecretLen {
			return presentedToken{}, nil
		}
		rt, err := s.store.GetRefreshToken(ctx, hashSecret(tok), s.now())
		switch {
		case errors.Is(err, store.ErrNotFound):
			return presentedToken{}, nil
		case err != nil:
			return presentedToken{}, errStoreUnavailable.withCause(err)
		}
		return presentedToken{refresh: &rt}, nil
	}
	claims, err := s.issued.Verify(ctx, tok)
	switch {
	case errors.Is(err, errRevocationUnavailable):
		return presentedToken{}, errStoreUnavailable.withCause(err)
	case err != nil:
		return presentedToken{}, nil // not one of ours, or expired
	}
	return presentedToken{access: claims}, nil
}
