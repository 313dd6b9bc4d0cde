package keystile

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"net/url"
	"time"

	"github.com/keystile/keystile/internal/check"
	"github.com/keystile/keystile/store"
)

// Defaults of the Config lifetimes that are left zero. The binary uses the
// same values, so its documentation and the library's cannot disagree.
const (
	DefaultAccessTokenTTL      = 15 * time.Minute
	DefaultCodeTTL             = 60 * time.Second
	DefaultLoginTTL            = 10 * time.Minute
	DefaultSessionTTL          = 12 * time.Hour
	DefaultRefreshTokenIdleTTL = 7 * 24 * time.Hour
	DefaultRefreshTokenMaxTTL  = 30 * 24 * time.Hour
)

// Config configures a Server. Zero values of optional fields are safe defaults.
type Config struct {
	// Issuer is the https URL (http only on loopback) that identifies this
	// server; it is the iss of every token and the base of every endpoint URL.
	// It is never taken from the request's Host header.
	Issuer string
	// Audience is the aud of access tokens issued for no resource; default
	// the Issuer. /userinfo accepts only tokens for it.
	Audience string
	// Clients are the registered clients.
	Clients []Client
	// Resources are the APIs Keystile mints access tokens for (RFC 8707),
	// each with its own aud, scopes and claims; a client may get tokens for
	// those in its Client.Resources. Without Resources, every access token
	// has the one Audience and carries every custom claim of its user or
	// service client: any API that accepts Keystile's tokens accepts every
	// client's. With them, a token for no resource (a sign-in, /userinfo)
	// carries no custom claim and no resource's scope. See Resource.
	Resources []Resource
	// Capabilities, when set, expands a capability claim into its closure in
	// access tokens (see Capabilities).
	Capabilities Capabilities
	// Store keeps codes, sessions, refresh tokens, revocations, device
	// authorizations, the ids of used login forms and, optionally, signing
	// keys. Required.
	Store store.Store
	// Keys sign access tokens: the first one signs, every one verifies and the
	// public ones are published in the JWKS. Required.
	Keys []SigningKey
	// IDTokenKey signs OpenID Connect ID tokens (see ScopeOpenID). Relying
	// parties verify ID tokens through the JWKS, so it must be an RS256,
	// ES256 or EdDSA key; it is published in the JWKS. When it is not set,
	// ID tokens are signed by the key that signs access tokens, which must
	// then be asymmetric: New refuses a config whose Keys[0] is HS256 while
	// a client may request openid and IDTokenKey is not set. (If a rotation
	// later makes an HS256 key the signer without an IDTokenKey, openid
	// grants fail with server_error.) ID tokens live as long as access
	// tokens (AccessTokenTTL), so that a rotated key outlives them all.
	IDTokenKey SigningKey
	// ValidateUser checks the login form's credentials. Required.
	ValidateUser ValidateUserFunc
	// LookupUser, when set, re-checks a user on refresh and on single sign-on
	// (see LookupUserFunc). Without it, the claims captured at sign-in are
	// used until the session or the refresh-token family expires.
	LookupUser LookupUserFunc
	// AccessTokenTTL is the lifetime of access tokens; default 15 minutes.
	AccessTokenTTL time.Duration
	// CodeTTL is the lifetime of authorization codes; default 60 seconds.
	CodeTTL time.Duration
	// DeviceCodeTTL is how long a device authorization waits for the user
	// to enter its code at /device; default DefaultDeviceCodeTTL (10
	// minutes).
	DeviceCodeTTL time.Duration
	// LoginTTL is how long a login form (the pending /authorize request it
	// carries) stays valid; default 10 minutes.
	LoginTTL time.Duration
	// SessionTTL is how long a browser stays signed in (single sign-on);
	// default 12 hours. A negative value turns single sign-on off.
	SessionTTL time.Duration
	// RefreshTokenIdleTTL is how long an unused refresh token lives; default
	// 7 days. RefreshTokenMaxTTL bounds a refresh-token family however often
	// it is used; default 30 days.
	RefreshTokenIdleTTL time.Duration
	RefreshTokenMaxTTL  time.Duration
	// Branding is the product name, logo and accent colour of the sign-in
	// pages (see Branding).
	Branding Branding
	// Templates, when set, overrides some or all of the pages' templates:
	// layout.html, parts.html (blocks pages share), login.html,
	// error.html, logout.html, signed_out.html and device.html
	// at its root (os.DirFS of a directory, or an embed.FS). The rest keep
	// Keystile's own. New parses and test-renders every page, so a broken
	// template stops the start instead of failing a user.
	Templates fs.FS
	// TrustedProxies are the reverse proxies in front of Keystile. When a
	// request comes from one of them, the client's address for the login
	// throttle is taken from X-Forwarded-For (the right-most hop that is not
	// a trusted proxy); otherwise that header is ignored, since a client can
	// write anything into it. Behind a proxy without this setting, every user
	// shares the proxy's address, and so its throttle budget.
	TrustedProxies []netip.Prefix
	// LoginThrottle bounds failed sign-ins: back-off and a daily cap per
	// account, a budget of its own for a browser that signed in before, a
	// limit per client address. The zero value is the defaults.
	LoginThrottle LoginThrottle
	// OnEvent, when set, is told of each Event (tokens issued, credentials
	// reused), for
	// metrics. It is called synchronously and must be cheap and safe for
	// concurrent use.
	OnEvent func(Event)
	// Logger receives structured logs; default slog.Default(). Secrets and
	// tokens are never logged.
	Logger *slog.Logger
	// Now is the clock; default time.Now. Tests set it.
	Now func() time.Time
}

func applyDefaults(cfg *Config) error {
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.DeviceCodeTTL == 0 {
		cfg.DeviceCodeTTL = DefaultDeviceCodeTTL
	}
	if cfg.LoginTTL == 0 {
		cfg.LoginTTL = DefaultLoginTTL
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.RefreshTokenIdleTTL == 0 {
		cfg.RefreshTokenIdleTTL = DefaultRefreshTokenIdleTTL
	}
	if cfg.RefreshTokenMaxTTL == 0 {
		cfg.RefreshTokenMaxTTL = DefaultRefreshTokenMaxTTL
	}
	if cfg.AccessTokenTTL < 0 || cfg.CodeTTL < 0 || cfg.DeviceCodeTTL < 0 || cfg.LoginTTL < 0 || cfg.RefreshTokenIdleTTL < 0 || cfg.RefreshTokenMaxTTL < 0 {
		return errors.New("keystile: Config TTLs must not be negative")
	}
	throttle, err := cfg.LoginThrottle.withDefaults()
	if err != nil {
		return err
	}
	cfg.LoginThrottle = throttle
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return nil
}

// validateIssuer applies check.Issuer, the rule the binary's config checker
// applies too.
func validateIssuer(raw string) (*url.URL, error) {
	u, err := check.Issuer(raw)
	if err != nil {
		return nil, fmt.Errorf("keystile: Config.Issuer %w", err)
	}
	return u, nil
}
