// Package keystile is a minimal OAuth 2 authorization server with PKCE.
//
// A Server answers /authorize (with its own login form), /token (the
// authorization_code, refresh_token and client_credentials grants), /revoke,
// /introspect, /logout, OpenID Connect's /userinfo, the JWKS and the RFC 8414
// and OpenID discovery documents; Handler lists every route. It issues RFC
// 9068 JWT access tokens that carry the custom claims returned by a
// user-validation callback (ValidateUserFunc), and ID tokens for the openid
// scope. The package ships the middleware (Verifier, RequireClaim) that
// resource servers use to check access tokens, in the same process or from
// the JWKS URL. Storage is any store.Store: store/memory, store/sqlite or
// store/postgres.
package keystile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/keystile/keystile/internal/check"
	"github.com/keystile/keystile/internal/hook"
	"github.com/keystile/keystile/store"
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

// Server is a Keystile authorization server. Create it with New and serve
// Handler; it is safe for concurrent use.
type Server struct {
	cfg     Config
	issuer  *url.URL
	clients atomic.Pointer[clientSet] // swapped whole by SetClients
	store   store.Store
	keys    *keyRing
	log     *slog.Logger
	now     func() time.Time
	login   *loginGate   // the login throttle (login_throttle.go)
	derived *derivedKeys // seal pending sign-ins, sign known-device cookies (seal.go)
	// clientThrottle throttles failed client authentication; clientLog
	// bounds the lines that a throttled flood writes.
	clientThrottle *throttle
	clientLog      *logBudget
	// devices throttles device authorizations per address (each stores a
	// record) and wrong user codes at /device per user and address.
	devices  *throttle
	verifier *Verifier
	// issued verifies every access token this server mints, whatever its
	// audience: /revoke and /introspect take them all.
	issued *Verifier
	// resources are Config.Resources by ID; resourceScopes the scopes any
	// of them lists; resourceVerifiers one verifier each (ResourceVerifier).
	resources         map[string]*Resource
	resourceScopes    map[string]bool
	resourceVerifiers map[string]*Verifier
	capabilities      capabilityClosure
	pages             *pageSet // templates and static assets, with the branding applied
	secure            bool     // issuer is https: cookies get Secure and the __Host- prefix
	// signIn, set only by keystile dev (internal/hook), signs every
	// authorization request in without the login form.
	signIn hook.SignInFunc
}

// New validates cfg and returns a Server. The error names the bad field.
func New(cfg Config) (*Server, error) {
	if err := applyDefaults(&cfg); err != nil {
		return nil, err
	}
	iss, err := validateIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		return nil, errors.New("keystile: Config.Store is required")
	}
	if cfg.ValidateUser == nil {
		return nil, errors.New("keystile: Config.ValidateUser is required")
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("keystile: Config.Keys needs at least one signing key")
	}
	resources, err := compileResources(cfg)
	if err != nil {
		return nil, err
	}
	capabilities, err := compileCapabilities(cfg.Capabilities)
	if err != nil {
		return nil, err
	}
	clients, err := newClientSet(cfg, resources, capabilities)
	if err != nil {
		return nil, err
	}
	for i, p := range cfg.TrustedProxies {
		if err := check.TrustedProxy(p); err != nil {
			return nil, fmt.Errorf("keystile: Config.TrustedProxies[%d]: %w", i, err)
		}
	}
	pages, err := newPageSet(cfg.Branding, cfg.Templates)
	if err != nil {
		return nil, err
	}
	s := &Server{
		pages:  pages,
		cfg:    cfg,
		issuer: iss,
		store:  cfg.Store,
		keys:   newKeyRing(slices.Clone(cfg.Keys), cfg.AccessTokenTTL, cfg.Now),
		log:    cfg.Logger,
		now:    cfg.Now,
		login:  newLoginGate(cfg.LoginThrottle, cfg.Store, cfg.Logger),
		secure: iss.Scheme == "https",

		clientThrottle: newThrottle(),
		clientLog:      newLogBudget(throttleLogEvery, throttleLogBurst),
		devices:        newThrottle(),

		resources:      resources,
		resourceScopes: map[string]bool{},
		capabilities:   capabilities,
	}
	s.clients.Store(clients)
	s.derived = newDerivedKeys(s.keys)
	v, err := newVerifier(VerifierConfig{
		Issuer:   cfg.Issuer,
		Audience: cfg.Audience,
		Now:      cfg.Now,
		Logger:   cfg.Logger,
	}, s.keys, cfg.Store.AccessTokenRevoked)
	if err != nil {
		return nil, fmt.Errorf("keystile: building the verifier: %w", err)
	}
	s.verifier = v
	s.issued = v.withAudiences(cfg.Audience)
	s.resourceVerifiers = make(map[string]*Verifier, len(resources))
	for id, r := range resources {
		for _, sc := range r.Scopes {
			s.resourceScopes[sc] = true
		}
		s.issued = s.issued.withAudiences(append(s.issued.audiences, id)...)
		s.resourceVerifiers[id] = v.forResource(id, r.Scopes)
	}
	return s, nil
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

// Issuer returns the configured issuer URL.
func (s *Server) Issuer() string { return s.cfg.Issuer }

// Verifier returns the in-process verifier for this server's access tokens,
// for guarding resource routes that run in the same program.
func (s *Server) Verifier() *Verifier { return s.verifier }

// ResourceVerifier returns the in-process verifier of one of
// Config.Resources: it accepts only tokens minted for that resource (aud),
// and its challenges and ProtectedResourceMetadata point clients here
// (RFC 9728), listing the resource's scopes.
func (s *Server) ResourceVerifier(resource string) (*Verifier, error) {
	v, ok := s.resourceVerifiers[resource]
	if !ok {
		return nil, fmt.Errorf("keystile: ResourceVerifier: %q is not in Config.Resources", resource)
	}
	return v, nil
}

// endpoint returns the absolute URL of one of the server's endpoints, built
// from the configured issuer only.
func (s *Server) endpoint(path string) string { return s.cfg.Issuer + path }

// Handler returns the server's routes. Mount it at the issuer's path.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(recoverer(s.log))
	r.Use(limitRequest)
	// HEAD works wherever GET does (RFC 9110 §9.3.2), for health checks.
	r.Use(middleware.GetHead)

	pages := r.With(pageHeaders)
	pages.Get("/authorize", s.handleAuthorize)
	pages.Post("/authorize", s.handleAuthorize)
	pages.With(s.sameOriginForm).Post("/login", s.handleLogin)
	pages.Get("/device", s.handleDevicePage)
	pages.With(s.sameOriginForm).Post("/device", s.handleDevicePage)

	pages.Get("/logout", s.handleLogout)
	pages.With(s.sameOriginForm).Post("/logout", s.handleLogout)

	// What browser apps call cross-origin: CORS for the origins clients
	// registered; the handlers let each origin use only its own client
	// (checkOrigin in cors.go). The pages above are never CORS endpoints.
	post := r.With(s.clientCORS(http.MethodPost))
	post.Options("/token", preflightOnly(http.MethodPost))
	post.Post("/token", s.handleToken)
	post.Post("/device_authorization", s.handleDeviceAuthorization)
	post.Options("/revoke", preflightOnly(http.MethodPost))
	post.Post("/revoke", s.handleRevoke)
	userinfo := r.With(s.clientCORS(http.MethodGet, http.MethodPost))
	userinfo.Options("/userinfo", preflightOnly(http.MethodGet, http.MethodPost))
	userinfo.Get("/userinfo", s.handleUserInfo)
	userinfo.Post("/userinfo", s.handleUserInfo)

	r.Post("/introspect", s.handleIntrospect)

	// Public documents: any origin may read them.
	public := r.With(publicCORS)
	public.Options("/.well-known/jwks.json", preflightOnly(http.MethodGet))
	public.Get("/.well-known/jwks.json", s.handleJWKS)
	public.Options("/.well-known/oauth-authorization-server", preflightOnly(http.MethodGet))
	public.Get("/.well-known/oauth-authorization-server", s.handleMetadata)
	public.Options("/.well-known/openid-configuration", preflightOnly(http.MethodGet))
	public.Get("/.well-known/openid-configuration", s.handleOpenIDConfiguration)
	r.Handle("/static/*", s.staticHandler())
	return r
}
