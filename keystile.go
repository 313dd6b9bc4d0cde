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
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/keystile/keystile/internal/check"
	"github.com/keystile/keystile/internal/hook"
	"github.com/keystile/keystile/store"
)

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
	devices *throttle
	// revocations is the deny-list the verifiers consult, kept in memory
	// while FollowRevocations runs (revocations.go).
	revocations *revocations
	verifier    *Verifier
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
	s.revocations = newRevocations(cfg.Store, cfg.Now, cfg.Logger)
	v, err := newVerifier(VerifierConfig{
		Issuer:   cfg.Issuer,
		Audience: cfg.Audience,
		Now:      cfg.Now,
		Logger:   cfg.Logger,
	}, s.keys, s.revocations.revoked)
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
	r.Use(getHead)

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
	post.Options("/device_authorization", preflightOnly(http.MethodPost))
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
