package keystile

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/keystile/keystile/store"
)

// GrantDeviceCode is the device authorization grant (RFC 8628 §3.4), for
// command-line tools and devices without a browser. A client lists it in
// GrantTypes to use /device_authorization; public clients may.
const GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// Device authorization defaults (RFC 8628 §3.2): the device polls every
// five seconds, and the user has DefaultDeviceCodeTTL to enter the code.
const (
	DefaultDeviceCodeTTL = 10 * time.Minute
	devicePollInterval   = 5 * time.Second
)

// deviceAuthResponse is RFC 8628 §3.2's answer.
type deviceAuthResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// handleDeviceAuthorization serves POST /device_authorization (RFC 8628
// §3.1): an authenticated (or public) client allowed the device grant gets
// a device code to poll /token with and a user code for the person to
// enter at /device. Only their hashes are stored. Each request stores a
// record, so a client address may only make so many (docs/security.md §10).
func (s *Server) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	client, p, err := s.readClientRequest(r, originBound)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	if !client.allowsGrant(GrantDeviceCode) {
		s.writeJSONError(w, r, oauthError(codeUnauthorizedClient, "the client may not use the device authorization grant"))
		return
	}
	scope, e := client.parseScope(p["scope"])
	if e != nil {
		s.writeJSONError(w, r, e)
		return
	}
	// RFC 8707 as at /authorize: the resource named, or every one the
	// client may use, from which /token picks.
	resources, e := s.authorizeResources(client, p)
	if e != nil {
		s.writeJSONError(w, r, e)
		return
	}
	now := s.now()
	if !s.cfg.LoginThrottle.Disabled {
		if wait := s.devices.take(now, limitKey{"a:" + addressKey(s.clientAddr(r)), deviceAuthorizationPolicy}); wait > 0 {
			s.writeJSONError(w, r, oauthError(codeTemporarilyUnavailable, "too many device authorizations from this address").withStatus(http.StatusTooManyRequests).withRetryAfter(wait))
			return
		}
	}
	deviceCode := newSecret()
	// A user code is short: on the rare collision with a live one, draw again.
	for range 5 {
		userCode := newUserCode()
		canonical, _ := normalizeUserCode(userCode)
		err = s.store.CreateDeviceCode(r.Context(), store.DeviceCode{
			Hash:         hashSecret(deviceCode),
			UserCodeHash: hashSecret(canonical),
			ClientID:     client.ID,
			Scope:        scope,
			Resources:    resources,
			ExpiresAt:    now.Add(s.cfg.DeviceCodeTTL),
			Interval:     devicePollInterval,
		})
		if errors.Is(err, store.ErrDuplicate) {
			continue
		}
		if err != nil {
			break
		}
		writeJSON(w, http.StatusOK, noStoreJSON, deviceAuthResponse{
			DeviceCode:              deviceCode,
			UserCode:                userCode,
			VerificationURI:         s.endpoint("/device"),
			VerificationURIComplete: s.endpoint("/device?" + url.Values{"user_code": {userCode}}.Encode()),
			ExpiresIn:               int64(s.cfg.DeviceCodeTTL / time.Second),
			Interval:                int64(devicePollInterval / time.Second),
		})
		return
	}
	s.writeJSONError(w, r, serverError(err))
}
