package keystile

import (
	"context"
	"errors"
)

// Identity is what a ValidateUserFunc returns for a successful sign-in: the
// subject of the tokens, and custom claims to put into them. A custom claim
// never overrides a registered one (iss, sub, aud, exp, scope, …).
type Identity struct {
	Subject string
	Claims  map[string]any
}

// ErrInvalidCredentials is what a ValidateUserFunc returns for an unknown user
// or a wrong password. The login form shows the same message for both.
var ErrInvalidCredentials = errors.New("keystile: invalid username or password")

// ValidateUserFunc checks a username and password. It returns
// ErrInvalidCredentials (or an error wrapping it) to reject the sign-in; any
// other error is treated as a server failure and logged.
type ValidateUserFunc func(ctx context.Context, username, password string) (Identity, error)

// ErrUnknownUser is what a LookupUserFunc returns for a user that no longer
// exists or is disabled: their refresh tokens and sessions stop working.
var ErrUnknownUser = errors.New("keystile: unknown or disabled user")

// LookupUserFunc returns the current identity of a subject, without a
// password. Keystile calls it when a refresh token is used and when a browser
// session skips the login form, so that a disabled user gets nothing and
// tokens carry current claims. It returns ErrUnknownUser (or an error wrapping
// it) for a user who is gone or disabled; any other error is a server failure.
type LookupUserFunc func(ctx context.Context, subject string) (Identity, error)
