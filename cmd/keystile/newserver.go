package main

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/store"
)

// newServer makes the keystile.Server that serve runs and check tries out,
// from checked settings: one place maps the file's settings to the
// library's Config. With m, sign-ins and the library's events are counted
// (metrics.go).
func newServer(s *settings, st store.Store, keys []keystile.SigningKey, idTokenKey keystile.SigningKey, users *liveUsers, m *metrics, log *slog.Logger) (*keystile.Server, error) {
	validate, onEvent := users.validate, func(keystile.Event) {}
	if m != nil {
		validate, onEvent = m.validate(users.validate), m.event
	}
	srv, err := keystile.New(keystile.Config{
		Issuer:              s.Issuer,
		Audience:            s.Audience,
		Clients:             s.Clients,
		Resources:           s.Resources,
		Capabilities:        s.Capabilities,
		Store:               st,
		Keys:                keys,
		IDTokenKey:          idTokenKey,
		ValidateUser:        validate,
		LookupUser:          users.lookup,
		AccessTokenTTL:      s.AccessTTL,
		CodeTTL:             s.CodeTTL,
		DeviceCodeTTL:       s.DeviceCodeTTL,
		LoginTTL:            s.LoginTTL,
		SessionTTL:          s.SessionTTL,
		RefreshTokenIdleTTL: s.RefreshIdleTTL,
		RefreshTokenMaxTTL:  s.RefreshMaxTTL,
		Branding:            s.Branding,
		Templates:           s.Templates,
		TrustedProxies:      s.TrustedProxies,
		LoginThrottle:       s.LoginThrottle,
		OnEvent:             onEvent,
		Logger:              log,
	})
	if err != nil {
		return nil, inFileTerms(err, s)
	}
	return srv, nil
}

// inFileTerms rewrites what keystile.New says about a Config field in the
// terms of the configuration file: an operator edits templates_dir, not
// Config.Templates. New checks what only the library can judge (do the
// templates parse and render, is the logo an image).
func inFileTerms(err error, s *settings) error {
	r := strings.NewReplacer(
		"keystile: Config.Templates holds", "templates_dir "+s.TemplatesDir+" holds",
		"keystile: Config.Templates:", "templates_dir "+s.TemplatesDir+":",
		"Config.Branding.Logo ", "branding.logo_file "+s.LogoFile+" ",
		"keystile: Config.Branding.AccentColor:", "branding.accent_color:",
		"keystile: Config.Clients", "clients",
		"keystile: Config.Issuer", "issuer",
	)
	return errors.New(strings.TrimPrefix(r.Replace(err.Error()), "keystile: "))
}
