package keystile

import (
	"context"
	"errors"

	"github.com/keystile/keystile/store"
)

// Errors of the device grant's polls (RFC 8628 §3.5).
var (
	errAuthorizationPending = oauthError(codeAuthorizationPending, "the user has not yet approved this device")
	errSlowDown             = oauthError(codeSlowDown, "polling too often: wait five seconds longer between polls")
	errDeviceDenied         = oauthError(codeAccessDenied, "the user denied this device")
	errDeviceExpired        = oauthError(codeExpiredToken, "the device code has expired: start again")
	errBadDeviceCode        = oauthError(codeInvalidGrant, "the device code is not valid or was already used")
)

// deviceCode serves grant_type=urn:ietf:params:oauth:grant-type:device_code
// (RFC 8628 §3.4): one poll of a device code. The store records the poll
// and, once the user has decided, hands the decision to exactly one poll,
// which consumes the code: an approved code yields tokens once. Only the
// client the code was issued to polls it: another client's request is
// invalid_grant and changes nothing (the store checks the client before it
// records or consumes), so it can neither spend the user's approval nor
// make the device slow down.
func (s *Server) deviceCode(ctx context.Context, client *Client, p params) (grant, error) {
	code := p["device_code"]
	if code == "" {
		return grant{}, oauthError(codeInvalidRequest, "device_code is required")
	}
	// A resource this client may never have is refused before the poll,
	// which would record it or spend an approval: the same pick as below,
	// against everything the client may be granted; whether the user's
	// grant holds it is known only from the code.
	if _, e := s.tokenResource(client, client.Resources, p); e != nil {
		return grant{}, e
	}
	if len(code) > maxSecretLen {
		return grant{}, errBadDeviceCode
	}
	now := s.now()
	d, err := s.store.PollDeviceCode(ctx, hashSecret(code), client.ID, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return grant{}, errBadDeviceCode
	case errors.Is(err, store.ErrExpired):
		return grant{}, errDeviceExpired
	case err != nil:
		return grant{}, serverError(err)
	}
	switch d.Status {
	case store.DeviceDenied:
		return grant{}, errDeviceDenied
	case store.DevicePending:
		if d.PolledTooSoon(now) {
			return grant{}, errSlowDown
		}
		return grant{}, errAuthorizationPending
	}
	// As at the code grant's /token: the resource named, if granted, or
	// the only one granted (resources.go).
	resource, e := s.tokenResource(client, d.Resources, p)
	if e != nil {
		return grant{}, e
	}
	g := grant{client: client, subject: d.Subject, claims: d.Claims, scope: d.Scope, resources: d.Resources, resource: resource, authTime: d.AuthTime}
	if client.getsRefreshTokens(d.Scope) {
		g.family = &family{id: newSecret(), scope: d.Scope, resources: d.Resources, expiresAt: now.Add(s.cfg.RefreshTokenMaxTTL)}
	}
	return g, nil
}
