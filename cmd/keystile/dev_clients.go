package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/check"
)

// devBodyLimit bounds what registerClients reads of a form body; the
// server's own limit applies after it.
const devBodyLimit = 64 << 10

// devScopes are what every development client may ask for, on top of the
// scopes apps actually request.
var devScopes = []string{keystile.ScopeOpenID, "profile", "email", "offline_access"}

// registerClients accepts any client id with any loopback redirect URI:
// before a request reaches the server, the client it names is registered
// (public, every grant a public client may have), with the request's
// loopback redirect URI and scopes added. A redirect URI that is not
// loopback is never added, so the server answers it with its error page.
func (d *devServer) registerClients(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/authorize", "/token", "/device_authorization", "/revoke":
			p, err := requestParams(r)
			if err == nil && p.Get("client_id") != "" {
				d.ensureClient(p.Get("client_id"), p.Get("redirect_uri"), r.Header.Get("Origin"), strings.Fields(p.Get("scope")))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requestParams reads the query and a form body, and puts the body back
// for the server.
func requestParams(r *http.Request) (url.Values, error) {
	p, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || r.Method != http.MethodPost {
		return p, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, devBodyLimit))
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	for k, v := range form {
		p[k] = append(p[k], v...)
	}
	return p, nil
}

// ensureClient registers id, or adds redirectURI, a browser app's origin
// and scopes to it (loopback only; an origin belongs to one client), and
// rebuilds the server when anything changed. What keystile.ValidateClient
// refuses is left out: the server then answers as it would anyway.
func (d *devServer) ensureClient(id, redirectURI, origin string, scopes []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, known := d.clients[id]
	if !known {
		c = keystile.Client{
			ID: id, Name: id, Public: true,
			GrantTypes:   []string{keystile.GrantAuthorizationCode, keystile.GrantRefreshToken, keystile.GrantDeviceCode},
			RedirectURIs: []string{"http://127.0.0.1/callback"},
			Scopes:       slices.Clone(devScopes),
		}
	}
	next := c
	next.RedirectURIs, next.Scopes, next.AllowedOrigins = slices.Clone(c.RedirectURIs), slices.Clone(c.Scopes), slices.Clone(c.AllowedOrigins)
	if isLoopbackHTTP(redirectURI) && !slices.Contains(next.RedirectURIs, redirectURI) {
		next.RedirectURIs = append(next.RedirectURIs, redirectURI)
	}
	if isLoopbackHTTP(origin) && !slices.Contains(next.AllowedOrigins, origin) && !d.originTaken(origin) {
		next.AllowedOrigins = append(next.AllowedOrigins, origin)
	}
	for _, sc := range scopes {
		if !slices.Contains(next.Scopes, sc) {
			next.Scopes = append(next.Scopes, sc)
		}
	}
	if known && slices.Equal(next.RedirectURIs, c.RedirectURIs) && slices.Equal(next.Scopes, c.Scopes) && slices.Equal(next.AllowedOrigins, c.AllowedOrigins) {
		return
	}
	if keystile.ValidateClient(next) != nil {
		return
	}
	d.clients[id] = next
	if err := d.rebuild(); err != nil {
		d.log.Error("registering a development client", "client_id", id, "err", err)
		if known {
			d.clients[id] = c
		} else {
			delete(d.clients, id)
		}
	}
}

func isLoopbackHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "http" && check.LoopbackHost(u.Hostname())
}

// originTaken reports whether another client has origin. The caller holds
// d.mu.
func (d *devServer) originTaken(origin string) bool {
	for _, c := range d.clients {
		if slices.Contains(c.AllowedOrigins, origin) {
			return true
		}
	}
	return false
}
