// Package hook holds the few entry points into a keystile.Server that the
// module's own tools need and that are not part of the library's API:
// keystiletest mints tokens without a sign-in, and keystile dev signs users
// in without a password. The root package fills the variables when it is
// initialised; code outside this module cannot import this package, so the
// library's exported API stays what its documentation shows.
package hook

import "context"

// MintAccessToken signs an access token for subject with the custom claims,
// as if issued to clientID by the server srv (a *keystile.Server) at its
// clock's now. Registered claims in claims are dropped, as for any grant.
var MintAccessToken func(srv any, clientID, subject string, claims map[string]any) (string, error)

// SignInFunc returns the identity a development server signs every
// authorization request in as.
type SignInFunc func(ctx context.Context) (subject string, claims map[string]any, err error)

// SetSignIn makes srv (a *keystile.Server) answer every authorization
// request that would show the login form by signing in the identity f
// returns instead, without a password. Only keystile dev uses it.
var SetSignIn func(srv any, f SignInFunc)
